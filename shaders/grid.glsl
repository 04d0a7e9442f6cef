// Flattened workgroup index of a 2-D grid: hosts split more than
// maxComputeWorkGroupCount[0] (often 65535) groups over y (see runtime/ops/op_util.h).
uint group_index() { return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x; }
