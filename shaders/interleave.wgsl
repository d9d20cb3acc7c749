// Cross-layout merge of pieces sharing their lines. `count`: output indptr as the sum
// of the pieces' indptrs. `order`: for each output entry, a binary search for its line
// and a walk over the pieces' shares of that line gives its position in the pieces'
// entries laid end to end. All values are 64-bit (lo, hi) pairs.

struct Params {
    count: u32,
    lines: u32,
    pieces: u32,
    stride: u32,
    k0_lo: u32,
    k0_hi: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
// Piece p's indptr values for the tile's lines at p * stride.
@group(0) @binding(1) var<storage, read> ptrs: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> out_ptr: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> sums: array<vec2<u32>>;
@group(0) @binding(4) var<storage, read> offsets: array<vec2<u32>>;
@group(0) @binding(5) var<storage, read_write> order: array<vec2<u32>>;

fn add64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    let lo = a.x + b.x;
    return vec2<u32>(lo, a.y + b.y + select(0u, 1u, lo < a.x));
}

fn sub64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    return vec2<u32>(a.x - b.x, a.y - b.y - select(0u, 1u, a.x < b.x));
}

fn lt64(a: vec2<u32>, b: vec2<u32>) -> bool {
    return a.y < b.y || (a.y == b.y && a.x < b.x);
}

@compute @workgroup_size(256)
fn count(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let j = gid.x + gid.y * nwg.x * 256u;
    if j >= P.count {
        return;
    }
    var acc = vec2<u32>(0u, 0u);
    for (var p = 0u; p < P.pieces; p++) {
        acc = add64(acc, ptrs[p * P.stride + j]);
    }
    sums[j] = acc;
}

@compute @workgroup_size(256)
fn order_entries(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if i >= P.count {
        return;
    }
    let k = add64(vec2<u32>(P.k0_lo, P.k0_hi), vec2<u32>(i, 0u));
    // Last line starting at or before k; the tile's first line starts at or before it.
    var lo = 0u;
    var hi = P.lines;
    while hi - lo > 1u {
        let mid = lo + (hi - lo) / 2u;
        if lt64(k, out_ptr[mid]) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    var rel = sub64(k, out_ptr[lo]);
    for (var p = 0u; p < P.pieces; p++) {
        let s = ptrs[p * P.stride + lo];
        let len = sub64(ptrs[p * P.stride + lo + 1u], s);
        if lt64(rel, len) {
            order[i] = add64(add64(offsets[p], s), rel);
            return;
        }
        rel = sub64(rel, len);
    }
}
