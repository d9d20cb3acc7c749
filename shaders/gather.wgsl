// out[k] = src[idx[k]] over words of 1, 2, 4 or 8 bytes. Each invocation owns one
// whole output u32 (four 1-byte or two 2-byte elements, or one 4-byte element) or one
// 8-byte element, so no two invocations write the same u32. A source larger than a
// binding is bound one slice [s0, s0 + slice_len) per pass; each pass fills in the
// elements whose index falls in its slice and keeps the others.

struct Params {
    count: u32,
    n: u32,
    word: u32,
    slice_len: u32,
    s0_lo: u32,
    s0_hi: u32,
    src_len_lo: u32,
    src_len_hi: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> idx: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> src: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<u32>;
@group(0) @binding(4) var<storage, read_write> bad: atomic<u32>;

fn lt64(a: vec2<u32>, b: vec2<u32>) -> bool {
    return a.y < b.y || (a.y == b.y && a.x < b.x);
}

// Position of element `e` within this pass's slice, or 0xffffffff when outside it.
fn slice_pos(e: u32) -> u32 {
    let v = idx[e];
    if !lt64(v, vec2<u32>(P.src_len_lo, P.src_len_hi)) {
        atomicOr(&bad, 1u);
        return 0xffffffffu;
    }
    let s0 = vec2<u32>(P.s0_lo, P.s0_hi);
    if lt64(v, s0) {
        return 0xffffffffu;
    }
    let lo = v.x - s0.x;
    let hi = v.y - s0.y - select(0u, 1u, v.x < s0.x);
    if hi != 0u || lo >= P.slice_len {
        return 0xffffffffu;
    }
    return lo;
}

fn narrow(i: u32) -> u32 {
    switch P.word {
        case 1u: {
            return (src[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu;
        }
        case 2u: {
            return (src[i >> 1u] >> ((i & 1u) * 16u)) & 0xffffu;
        }
        default: {
            return src[i];
        }
    }
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let w = gid.x + gid.y * nwg.x * 256u;
    if w >= P.count {
        return;
    }
    if P.word == 8u {
        let at = slice_pos(w);
        if at != 0xffffffffu {
            dst[2u * w] = src[2u * at];
            dst[2u * w + 1u] = src[2u * at + 1u];
        }
        return;
    }
    let per = 4u / P.word;
    let bits = P.word * 8u;
    let ones = select((1u << bits) - 1u, 0xffffffffu, P.word == 4u);
    var cur = dst[w];
    for (var k = 0u; k < per; k++) {
        let e = w * per + k;
        if e >= P.n {
            break;
        }
        let at = slice_pos(e);
        if at != 0xffffffffu {
            let shift = k * bits;
            cur = (cur & ~(ones << shift)) | (narrow(at) << shift);
        }
    }
    dst[w] = cur;
}
