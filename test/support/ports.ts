/** Free loopback ports, from the local mesh (@credmesh/local-mesh), under the harness's old path. */
export { freePort } from "@credmesh/local-mesh";
