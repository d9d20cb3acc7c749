// Orders each line's remapped entries by new index, one workgroup per line, for tables
// whose new indices are all below 32 * WORDS: the workgroup marks each entry's new index
// in a bitmap, counts the set bits before it (a scan of per-invocation popcounts), and
// writes the entry at that rank. New indices within a line are unique, so the ranks are
// a permutation. Linear in the line's length and the bitmap, and no invocation loops
// over a whole line alone (remap_lines.wgsl heapsorts lines of wider tables).

const WORDS: u32 = 2048u;
const GROUP: u32 = 256u;
const PER: u32 = 8u; // WORDS / GROUP

struct Params {
    count: u32,
    p0_lo: u32,
    // Line of this dispatch's first workgroup (dispatches are cut to the grid limit).
    first: u32,
    _pad1: u32,
    _pad2: u32,
    _pad3: u32,
    _pad4: u32,
    _pad5: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
// Old indptr of the lines, count + 1 values.
@group(0) @binding(1) var<storage, read> old_ptr: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> pos: array<u32>;
@group(0) @binding(3) var<storage, read> src_indices: array<vec2<u32>>;
@group(0) @binding(4) var<storage, read> src_keep: array<vec2<u32>>;
@group(0) @binding(5) var<storage, read_write> dst_indices: array<vec2<u32>>;
@group(0) @binding(6) var<storage, read_write> dst_keep: array<vec2<u32>>;

var<workgroup> bits: array<atomic<u32>, WORDS>;
var<workgroup> before: array<u32, GROUP>;
var<workgroup> line_start: u32;
var<workgroup> line_end: u32;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let j = P.first + wid.x + wid.y * nwg.x;
    if j >= P.count {
        return;
    }
    for (var w = lid; w < WORDS; w += GROUP) {
        atomicStore(&bits[w], 0u);
    }
    if lid == 0u {
        line_start = pos[old_ptr[j].x - P.p0_lo];
        line_end = pos[old_ptr[j + 1u].x - P.p0_lo];
    }
    let s = workgroupUniformLoad(&line_start);
    let e = workgroupUniformLoad(&line_end);
    if e == s {
        return;
    }
    if e - s == 1u {
        dst_indices[s] = src_indices[s];
        dst_keep[s] = src_keep[s];
        return;
    }
    for (var k = s + lid; k < e; k += GROUP) {
        let n = src_indices[k].x;
        atomicOr(&bits[n / 32u], 1u << (n % 32u));
    }
    workgroupBarrier();
    var mine = 0u;
    for (var w = lid * PER; w < (lid + 1u) * PER; w += 1u) {
        mine += countOneBits(atomicLoad(&bits[w]));
    }
    before[lid] = mine;
    workgroupBarrier();
    // Inclusive scan of the per-invocation counts (Hillis-Steele), then made exclusive.
    for (var d = 1u; d < GROUP; d *= 2u) {
        var add = 0u;
        if lid >= d {
            add = before[lid - d];
        }
        workgroupBarrier();
        before[lid] += add;
        workgroupBarrier();
    }
    for (var k = s + lid; k < e; k += GROUP) {
        let n = src_indices[k].x;
        let w = n / 32u;
        let owner = w / PER;
        var rank = before[owner];
        // `before` is inclusive: subtract the owner's own words, then add those before w.
        for (var x = owner * PER; x < (owner + 1u) * PER; x += 1u) {
            let word = atomicLoad(&bits[x]);
            if x < w {
                continue;
            }
            if x == w {
                rank -= countOneBits(word >> (n % 32u));
            } else {
                rank -= countOneBits(word);
            }
        }
        dst_indices[s + rank] = src_indices[k];
        dst_keep[s + rank] = src_keep[k];
    }
}
