// Second remap pass: each kept entry goes to its scanned position, with its source
// position (tile start + i, 64-bit) for moving values later.

struct Params {
    count: u32,
    p0_lo: u32,
    p0_hi: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> mapped: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> flags: array<u32>;
@group(0) @binding(3) var<storage, read> pos: array<u32>;
@group(0) @binding(4) var<storage, read_write> out_indices: array<vec2<u32>>;
@group(0) @binding(5) var<storage, read_write> out_keep: array<vec2<u32>>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if i >= P.count || flags[i] == 0u {
        return;
    }
    let at = pos[i];
    out_indices[at] = mapped[i];
    let lo = P.p0_lo + i;
    out_keep[at] = vec2<u32>(lo, P.p0_hi + select(0u, 1u, lo < i));
}
