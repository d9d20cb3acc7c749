// Last remap pass, one invocation per line: the line's new end (entries kept before
// the tile + scanned count at the line's old end) and, when asked, a heapsort of the
// line's entries by new index. Lines are short, so one invocation per line is enough.

struct Params {
    count: u32,
    p0_lo: u32,
    base_lo: u32,
    base_hi: u32,
    sort: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
// Old indptr of the lines, count + 1 values.
@group(0) @binding(1) var<storage, read> old_ptr: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> pos: array<u32>;
@group(0) @binding(3) var<storage, read_write> ends: array<vec2<u32>>;
@group(0) @binding(4) var<storage, read_write> out_indices: array<vec2<u32>>;
@group(0) @binding(5) var<storage, read_write> out_keep: array<vec2<u32>>;

fn less(a: vec2<u32>, b: vec2<u32>) -> bool {
    return a.y < b.y || (a.y == b.y && a.x < b.x);
}

fn swap(a: u32, b: u32) {
    let i = out_indices[a];
    out_indices[a] = out_indices[b];
    out_indices[b] = i;
    let k = out_keep[a];
    out_keep[a] = out_keep[b];
    out_keep[b] = k;
}

fn sift_down(s: u32, start: u32, end: u32) {
    var root = start;
    loop {
        var child = 2u * root + 1u;
        if child >= end {
            break;
        }
        if child + 1u < end && less(out_indices[s + child], out_indices[s + child + 1u]) {
            child += 1u;
        }
        if !less(out_indices[s + root], out_indices[s + child]) {
            break;
        }
        swap(s + root, s + child);
        root = child;
    }
}

fn heapsort(s: u32, e: u32) {
    let n = e - s;
    if n < 2u {
        return;
    }
    var i = n / 2u;
    while i > 0u {
        i -= 1u;
        sift_down(s, i, n);
    }
    var end = n;
    while end > 1u {
        end -= 1u;
        swap(s, s + end);
        sift_down(s, 0u, end);
    }
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let j = gid.x + gid.y * nwg.x * 256u;
    if j >= P.count {
        return;
    }
    // Old positions relative to the tile fit in 32 bits, so the low words suffice.
    let e = pos[old_ptr[j + 1u].x - P.p0_lo];
    let lo = P.base_lo + e;
    ends[j] = vec2<u32>(lo, P.base_hi + select(0u, 1u, lo < e));
    if P.sort != 0u {
        heapsort(pos[old_ptr[j].x - P.p0_lo], e);
    }
}
