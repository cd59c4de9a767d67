// State shared by the views: the last /cluster/resources answer and who
// wants to hear about new ones.
export const state = {
  resources: [],
  resourceListeners: new Set(),
  treeRenderMs: 0,
  refreshResources: () => {},
};

// Calls FN with every fresh resource list until the returned function is called.
export function onResources(fn) {
  state.resourceListeners.add(fn);
  if (state.resources.length) fn(state.resources);
  return () => state.resourceListeners.delete(fn);
}

export function findVm(vmid) {
  return state.resources.find((r) => r.type === "qemu" && r.vmid === Number(vmid));
}

export function nodes() {
  return state.resources.filter((r) => r.type === "node").map((r) => r.node).sort();
}

export function storagesOf(node, content) {
  return state.resources.filter((r) => r.type === "storage" && r.node === node &&
    (!content || (r.content || "").split(",").includes(content)));
}
