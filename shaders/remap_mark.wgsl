// First remap pass: looks each entry's index up in one slice [t0, t1) of the table
// (tables larger than a binding take several passes) and marks kept entries with 1.

struct Params {
    count: u32,
    t0: u32,
    t1: u32,
    table_len: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> indices: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> table: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> mapped: array<vec2<u32>>;
@group(0) @binding(4) var<storage, read_write> flags: array<u32>;
@group(0) @binding(5) var<storage, read_write> bad: atomic<u32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if i >= P.count {
        return;
    }
    let old = indices[i];
    if old.y != 0u || old.x >= P.table_len {
        atomicOr(&bad, 1u);
        return;
    }
    if old.x < P.t0 || old.x >= P.t1 {
        return;
    }
    let mapped_to = table[old.x - P.t0];
    mapped[i] = mapped_to;
    flags[i] = select(1u, 0u, mapped_to.x == 0xffffffffu && mapped_to.y == 0xffffffffu);
}
