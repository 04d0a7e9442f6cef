# Every shader variant the library embeds: vkcls_shader(<name> <source> [glslang defines...]).
# A variant whose source is not written yet is skipped (see CMakeLists.txt).
vkcls_shader(gemm_f32 gemm.comp)
vkcls_shader(gemm_f16 gemm.comp -DW_F16)
vkcls_shader(gemm_direct_f32 gemm_direct.comp)
vkcls_shader(gemm_direct_f16 gemm_direct.comp -DW_F16)
vkcls_shader(gemm_coopmat_nv_f16 gemm_coopmat_nv.comp)
# CPU drivers (lavapipe): texel-buffer loads shared across the subgroup; 8 or 16 rows per workgroup
vkcls_shader(gemm_cpu_r8 gemm_cpu.comp -DROWS=8)
vkcls_shader(gemm_cpu_r16 gemm_cpu.comp -DROWS=16)
vkcls_shader(attention attention.comp)
vkcls_shader(attention_cpu attention_cpu.comp)
vkcls_shader(softmax softmax.comp)
vkcls_shader(sigmoid sigmoid.comp)
vkcls_shader(layer_norm norm.comp -DLAYER_NORM)
vkcls_shader(rms_norm norm.comp -DRMS_NORM)
# CPU drivers: a row per invocation, vec4 (x4) or scalar (x1) texels
vkcls_shader(layer_norm_cpu_x4 norm_cpu.comp -DLAYER_NORM -DWIDTH=4)
vkcls_shader(layer_norm_cpu_x1 norm_cpu.comp -DLAYER_NORM -DWIDTH=1)
vkcls_shader(rms_norm_cpu_x4 norm_cpu.comp -DRMS_NORM -DWIDTH=4)
vkcls_shader(rms_norm_cpu_x1 norm_cpu.comp -DRMS_NORM -DWIDTH=1)
vkcls_shader(embed_f32 embed.comp)
vkcls_shader(embed_f16 embed.comp -DTABLE_F16)
vkcls_shader(rope rope.comp)
vkcls_shader(glu glu.comp)
vkcls_shader(pool pool.comp)
# tests only: a shader that writes out of bounds on purpose
vkcls_shader(test_copy test_copy.comp)
