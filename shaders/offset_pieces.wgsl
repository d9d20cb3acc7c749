// values[i] += the base of the segment holding i, in place, on 64-bit values held as
// (lo, hi) pairs so that it runs on adapters without 64-bit integers. Segments are
// (start, end, base_lo, base_hi) in ascending order of start and do not overlap; an
// element in none of them keeps its value. A carry out of the high word sets bit 2 of
// `bad` (bit 1 is the gather's). One dispatch covers elements first..end.

struct Params {
    end: u32,
    segments: u32,
    first: u32,
    _pad1: u32,
    _pad2: u32,
    _pad3: u32,
    _pad4: u32,
    _pad5: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> segs: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> values: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> bad: atomic<u32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = P.first + gid.x + gid.y * nwg.x * 256u;
    if i >= P.end {
        return;
    }
    // The last segment starting at or before i.
    var lo = 0u;
    var hi = P.segments;
    while hi - lo > 1u {
        let mid = (lo + hi) / 2u;
        if segs[mid].x <= i {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let s = segs[lo];
    if i < s.x || i >= s.y {
        return;
    }
    let a = values[i];
    let low = a.x + s.z;
    let high = a.y + s.w;
    let high_carried = high + select(0u, 1u, low < a.x);
    if high < a.y || high_carried < high {
        atomicOr(&bad, 2u);
    }
    values[i] = vec2<u32>(low, high_carried);
}
