// First transpose pass: counts the entries of each output line. Dropped entries
// (line all ones) are not counted; lines are below the line count (checked on the host).

struct Params {
    count: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> lines: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read_write> counts: array<atomic<u32>>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if i >= P.count {
        return;
    }
    let l = lines[i];
    if l.x == 0xffffffffu && l.y == 0xffffffffu {
        return;
    }
    atomicAdd(&counts[l.x], 1u);
}
