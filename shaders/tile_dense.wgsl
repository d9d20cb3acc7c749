// A dense output tile built by gathering: each output element takes the last piece
// that covers its row and maps a column onto it (through the piece's inverse column
// map), or the fill value. Each invocation owns one whole output u32 (or one 8-byte
// element), so narrow words never race.

struct Params {
    count: u32,
    elems: u32,
    out_cols: u32,
    word: u32,
    fill_lo: u32,
    fill_hi: u32,
    pieces: u32,
    _pad: u32,
}

const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> P: Params;
// Per piece, 8 u32: first tile row, rows in the tile, columns, data offset (u32s),
// inverse-map offset (u32s), 3 unused.
@group(0) @binding(1) var<storage, read> info: array<u32>;
@group(0) @binding(2) var<storage, read> inv: array<u32>;
@group(0) @binding(3) var<storage, read> piece_data: array<u32>;
@group(0) @binding(4) var<storage, read_write> dst: array<u32>;

fn load(base: u32, i: u32) -> vec2<u32> {
    switch P.word {
        case 1u: {
            return vec2<u32>((piece_data[base + (i >> 2u)] >> ((i & 3u) * 8u)) & 0xffu, 0u);
        }
        case 2u: {
            return vec2<u32>((piece_data[base + (i >> 1u)] >> ((i & 1u) * 16u)) & 0xffffu, 0u);
        }
        case 4u: {
            return vec2<u32>(piece_data[base + i], 0u);
        }
        default: {
            return vec2<u32>(piece_data[base + 2u * i], piece_data[base + 2u * i + 1u]);
        }
    }
}

fn element(e: u32) -> vec2<u32> {
    let r = e / P.out_cols;
    let c = e % P.out_cols;
    var p = P.pieces;
    while p > 0u {
        p -= 1u;
        let m = p * 8u;
        let row0 = info[m];
        if r >= row0 && r - row0 < info[m + 1u] {
            let j = inv[info[m + 4u] + c];
            if j != NONE {
                return load(info[m + 3u], (r - row0) * info[m + 2u] + j);
            }
        }
    }
    return vec2<u32>(P.fill_lo, P.fill_hi);
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let w = gid.x + gid.y * nwg.x * 256u;
    if w >= P.count {
        return;
    }
    if P.word == 8u {
        let v = element(w);
        dst[2u * w] = v.x;
        dst[2u * w + 1u] = v.y;
        return;
    }
    let per = 4u / P.word;
    let bits = P.word * 8u;
    let ones = select((1u << bits) - 1u, 0xffffffffu, P.word == 4u);
    var cur = 0u;
    for (var k = 0u; k < per; k++) {
        let e = w * per + k;
        if e < P.elems {
            cur |= (element(e).x & ones) << (k * bits);
        }
    }
    dst[w] = cur;
}
