/**
 * Paths of the third-party parts installed by scripts/provision.sh (its env.json), read by the
 * local mesh (@credmesh/local-mesh). Tests never download anything themselves: if a part is
 * missing, the message says how to install it.
 */
export { loadTools, requireTool, type Tools } from "@credmesh/local-mesh";
