// out[i] = src[i] + base on 64-bit values held as (lo, hi) pairs, so it runs on
// adapters without 64-bit integers. A carry out of the high word raises `overflow`.

struct Params {
    count: u32,
    base_lo: u32,
    base_hi: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> src: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> overflow: atomic<u32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if i >= P.count {
        return;
    }
    let a = src[i];
    let lo = a.x + P.base_lo;
    let hi = a.y + P.base_hi;
    let hi_carried = hi + select(0u, 1u, lo < a.x);
    if hi < a.y || hi_carried < hi {
        atomicOr(&overflow, 1u);
    }
    dst[i] = vec2<u32>(lo, hi_carried);
}
