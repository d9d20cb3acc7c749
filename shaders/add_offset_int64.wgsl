// out[i] = src[i] + base with native 64-bit integers, for adapters with SHADER_INT64
// (add_offset.wgsl is the same kernel on (lo, hi) pairs for the others). A sum that
// wraps raises `overflow`. Bindings match add_offset.wgsl, so the host code is shared.

struct Params {
    count: u32,
    base_lo: u32,
    base_hi: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> src: array<u64>;
@group(0) @binding(2) var<storage, read_write> dst: array<u64>;
@group(0) @binding(3) var<storage, read_write> overflow: atomic<u32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if i >= P.count {
        return;
    }
    let base = (u64(P.base_hi) << 32u) | u64(P.base_lo);
    let a = src[i];
    let sum = a + base;
    if sum < a {
        atomicOr(&overflow, 1u);
    }
    dst[i] = sum;
}
