// Groups entries into output lines in two passes over the entries: `count` tallies the
// entries of each line; after a scan of the tallies gives where lines start, `scatter`
// puts each kept entry in a free slot of its line (a second, zeroed tally is the
// cursor) with its position (tile start + i, 64-bit) and its index. Slots are taken in
// no particular order; sorting each line by position afterwards (remap_lines.wgsl)
// restores the input order, so the result is exact. Dropped entries (line all ones)
// are skipped; lines are below the line count (checked on the host).

struct Params {
    count: u32,
    p0_lo: u32,
    p0_hi: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> lines: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> majors: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read> starts: array<u32>;
@group(0) @binding(4) var<storage, read_write> tally: array<atomic<u32>>;
@group(0) @binding(5) var<storage, read_write> out_pos: array<vec2<u32>>;
@group(0) @binding(6) var<storage, read_write> out_majors: array<vec2<u32>>;

// The entry of this invocation, or past the end when it has none or it is dropped.
fn entry(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    let i = gid.x + gid.y * nwg.x * 256u;
    if i >= P.count {
        return 0xffffffffu;
    }
    let l = lines[i];
    if l.x == 0xffffffffu && l.y == 0xffffffffu {
        return 0xffffffffu;
    }
    return i;
}

@compute @workgroup_size(256)
fn count(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = entry(gid, nwg);
    if i == 0xffffffffu {
        return;
    }
    atomicAdd(&tally[lines[i].x], 1u);
}

@compute @workgroup_size(256)
fn scatter(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = entry(gid, nwg);
    if i == 0xffffffffu {
        return;
    }
    let l = lines[i].x;
    let at = starts[l] + atomicAdd(&tally[l], 1u);
    let lo = P.p0_lo + i;
    out_pos[at] = vec2<u32>(lo, P.p0_hi + select(0u, 1u, lo < i));
    out_majors[at] = majors[i];
}
