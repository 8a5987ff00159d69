/** The process owner of the local mesh (@credmesh/local-mesh), under the harness's old path. */
export { ManagedProcess } from "@credmesh/local-mesh";
