// Exclusive prefix sum of u32 counts, reduce-then-scan: `reduce` sums each block of
// 1024 elements, the host scans those sums the same way (one level per factor of
// 1024), and `downsweep` scans each block again starting from its block's offset.
// Portable: no forward-progress assumption between workgroups, unlike decoupled
// look-back. Elements at or past `n_in` count as 0, so asking for `count = n_in + 1`
// outputs puts the grand total in the last one.

struct Params {
    n_in: u32,
    count: u32,
    _pad0: u32,
    _pad1: u32,
}

const BLOCK: u32 = 1024u;
const PER_THREAD: u32 = 4u;

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> sums: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<u32>;

var<workgroup> shared_sums: array<u32, 256>;

fn load(i: u32) -> u32 {
    if i < P.n_in {
        return src[i];
    }
    return 0u;
}

// Exclusive scan of one value per thread across the workgroup; also returns the total
// through shared_sums[255] (read it after the call).
fn workgroup_exclusive(t: u32, v: u32) -> u32 {
    shared_sums[t] = v;
    workgroupBarrier();
    for (var off = 1u; off < 256u; off = off << 1u) {
        var add = 0u;
        if t >= off {
            add = shared_sums[t - off];
        }
        workgroupBarrier();
        shared_sums[t] = shared_sums[t] + add;
        workgroupBarrier();
    }
    return shared_sums[t] - v;
}

@compute @workgroup_size(256)
fn reduce(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let block = wg.x + wg.y * nwg.x;
    let t = lid.x;
    let first = block * BLOCK + t * PER_THREAD;
    var v = 0u;
    for (var k = 0u; k < PER_THREAD; k++) {
        v += load(first + k);
    }
    workgroup_exclusive(t, v);
    let blocks = (P.count + BLOCK - 1u) / BLOCK;
    if t == 255u && block < blocks {
        sums[block] = shared_sums[255];
    }
}

@compute @workgroup_size(256)
fn downsweep(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let block = wg.x + wg.y * nwg.x;
    let t = lid.x;
    let first = block * BLOCK + t * PER_THREAD;
    var vals: array<u32, 4>;
    var v = 0u;
    for (var k = 0u; k < PER_THREAD; k++) {
        vals[k] = load(first + k);
        v += vals[k];
    }
    let blocks = (P.count + BLOCK - 1u) / BLOCK;
    var running = workgroup_exclusive(t, v);
    if block < blocks {
        running += sums[block];
    }
    for (var k = 0u; k < PER_THREAD; k++) {
        if first + k < P.count {
            dst[first + k] = running;
        }
        running += vals[k];
    }
}
