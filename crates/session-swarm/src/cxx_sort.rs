//! A port of libstdc++'s `std::sort` (network-governance §2 "Determinism caveats", §8.4).
//!
//! `std::sort` is not stable, and oxend sorts swarms by size with it, so which of several
//! equal-sized swarms lands where decides which swarm a new node joins. libstdc++ uses
//! introsort: `__introsort_loop` (median-of-three pivot moved to the front, unguarded
//! Hoare partition, recursion on the right part, heap sort once the depth limit
//! `2·⌊log2 n⌋` is used up) for ranges longer than 16, then `__final_insertion_sort`
//! (guarded insertion sort of the first 16 elements, unguarded insertion of the rest).
//! For ≤ 16 elements only the insertion sort runs, which is stable.
//!
//! The C++ "unguarded" loops rely on sentinels a strict weak ordering guarantees; this
//! port adds bounds checks that never fire for such orderings and keep it panic-free for
//! any comparator.

/// libstdc++ `_S_threshold`.
const THRESHOLD: usize = 16;

/// Sorts `v` exactly as libstdc++'s `std::sort(first, last, less)` orders it, including
/// the relative order of elements that compare equal. `less` must be a strict weak
/// ordering for the result to be sorted (any comparator is memory- and panic-safe).
pub fn sort_by<T: Clone, F: FnMut(&T, &T) -> bool>(v: &mut [T], less: F) {
    let depth_limit = 2 * lg(v.len().max(1));
    sort_with_depth_limit(v, less, depth_limit);
}

/// `std::__sort` with an explicit introsort depth limit (the heap-sort fallback is
/// tested with 0).
fn sort_with_depth_limit<T: Clone, F: FnMut(&T, &T) -> bool>(
    v: &mut [T],
    mut less: F,
    depth_limit: usize,
) {
    let n = v.len();
    if n <= 1 {
        return;
    }
    introsort_loop(v, 0, n, depth_limit, &mut less);
    final_insertion_sort(v, &mut less);
}

/// `std::__lg`: ⌊log2 n⌋ for n ≥ 1.
fn lg(n: usize) -> usize {
    (usize::BITS - 1 - n.leading_zeros()) as usize
}

fn introsort_loop<T: Clone, F: FnMut(&T, &T) -> bool>(
    v: &mut [T],
    first: usize,
    mut last: usize,
    mut depth_limit: usize,
    less: &mut F,
) {
    while last - first > THRESHOLD {
        if depth_limit == 0 {
            heap_sort(&mut v[first..last], less);
            return;
        }
        depth_limit -= 1;
        let cut = unguarded_partition_pivot(v, first, last, less);
        introsort_loop(v, cut, last, depth_limit, less);
        last = cut;
    }
}

fn unguarded_partition_pivot<T, F: FnMut(&T, &T) -> bool>(
    v: &mut [T],
    first: usize,
    last: usize,
    less: &mut F,
) -> usize {
    let mid = first + (last - first) / 2;
    move_median_to_first(v, first, first + 1, mid, last - 1, less);
    unguarded_partition(v, first + 1, last, first, less)
}

fn move_median_to_first<T, F: FnMut(&T, &T) -> bool>(
    v: &mut [T],
    result: usize,
    a: usize,
    b: usize,
    c: usize,
    less: &mut F,
) {
    let pick = if less(&v[a], &v[b]) {
        if less(&v[b], &v[c]) {
            b
        } else if less(&v[a], &v[c]) {
            c
        } else {
            a
        }
    } else if less(&v[a], &v[c]) {
        a
    } else if less(&v[b], &v[c]) {
        c
    } else {
        b
    };
    v.swap(result, pick);
}

/// `__unguarded_partition(first, last, pivot)` with the pivot at index `pivot`
/// (`== first − 1`, never moved).
fn unguarded_partition<T, F: FnMut(&T, &T) -> bool>(
    v: &mut [T],
    mut first: usize,
    mut last: usize,
    pivot: usize,
    less: &mut F,
) -> usize {
    let end = last;
    loop {
        while first < end && less(&v[first], &v[pivot]) {
            first += 1;
        }
        last -= 1;
        while last > pivot && less(&v[pivot], &v[last]) {
            last -= 1;
        }
        if first >= last {
            return first;
        }
        v.swap(first, last);
        first += 1;
    }
}

/// `std::__partial_sort(first, last, last)`: `__make_heap` then `__sort_heap`.
fn heap_sort<T: Clone, F: FnMut(&T, &T) -> bool>(v: &mut [T], less: &mut F) {
    let len = v.len();
    if len < 2 {
        return;
    }
    // __make_heap
    let mut parent = (len - 2) / 2;
    loop {
        let value = v[parent].clone();
        adjust_heap(v, parent, len, value, less);
        if parent == 0 {
            break;
        }
        parent -= 1;
    }
    // __sort_heap: repeated __pop_heap(first, last, last)
    let mut last = len;
    while last > 1 {
        last -= 1;
        let value = v[last].clone();
        v[last] = v[0].clone();
        adjust_heap(&mut v[..last], 0, last, value, less);
    }
}

fn adjust_heap<T: Clone, F: FnMut(&T, &T) -> bool>(
    v: &mut [T],
    mut hole: usize,
    len: usize,
    value: T,
    less: &mut F,
) {
    let top = hole;
    let mut second = hole;
    while second < (len - 1) / 2 {
        second = 2 * (second + 1);
        if less(&v[second], &v[second - 1]) {
            second -= 1;
        }
        v[hole] = v[second].clone();
        hole = second;
    }
    if len & 1 == 0 && second == (len - 2) / 2 {
        second = 2 * (second + 1);
        v[hole] = v[second - 1].clone();
        hole = second - 1;
    }
    // __push_heap
    let mut parent = hole.saturating_sub(1) / 2;
    while hole > top && less(&v[parent], &value) {
        v[hole] = v[parent].clone();
        hole = parent;
        parent = hole.saturating_sub(1) / 2;
    }
    v[hole] = value;
}

fn final_insertion_sort<T: Clone, F: FnMut(&T, &T) -> bool>(v: &mut [T], less: &mut F) {
    if v.len() > THRESHOLD {
        insertion_sort(&mut v[..THRESHOLD], less);
        for i in THRESHOLD..v.len() {
            unguarded_linear_insert(v, i, less);
        }
    } else {
        insertion_sort(v, less);
    }
}

fn insertion_sort<T: Clone, F: FnMut(&T, &T) -> bool>(v: &mut [T], less: &mut F) {
    for i in 1..v.len() {
        if less(&v[i], &v[0]) {
            v[..=i].rotate_right(1);
        } else {
            unguarded_linear_insert(v, i, less);
        }
    }
}

fn unguarded_linear_insert<T: Clone, F: FnMut(&T, &T) -> bool>(
    v: &mut [T],
    mut last: usize,
    less: &mut F,
) {
    let value = v[last].clone();
    while last > 0 && less(&value, &v[last - 1]) {
        v[last] = v[last - 1].clone();
        last -= 1;
    }
    v[last] = value;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_and_small_inputs_are_stable() {
        let mut v: Vec<(usize, u32)> = [3u32, 1, 3, 0, 1, 3, 2, 0]
            .iter()
            .copied()
            .enumerate()
            .collect();
        sort_by(&mut v, |a, b| a.1 < b.1);
        let ids: Vec<usize> = v.iter().map(|e| e.0).collect();
        assert_eq!(ids, vec![3, 7, 1, 4, 6, 0, 2, 5]);
    }

    /// `derived.cxx.std_sort.*` of tests/vectors/cxx_reference.json (g++ 12.2), both the
    /// normal path and `__introsort_loop` with depth limit 0 (heap sort).
    #[test]
    fn matches_libstdcxx_including_heap_path() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../tests/vectors/cxx_reference.json")).unwrap();
        let mut heap_cases = 0;
        for v in doc["vectors"].as_array().unwrap() {
            if !v["id"]
                .as_str()
                .unwrap()
                .starts_with("derived.cxx.std_sort.")
            {
                continue;
            }
            let nums = |x: &serde_json::Value| -> Vec<u64> {
                x.as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_u64().unwrap())
                    .collect()
            };
            let mut items: Vec<(u64, u64)> = nums(&v["input"]["sizes"])
                .into_iter()
                .enumerate()
                .map(|(i, s)| (i as u64, s))
                .collect();
            let less = |a: &(u64, u64), b: &(u64, u64)| a.1 < b.1;
            if v["input"]["depth_limit_zero"].as_bool().unwrap() {
                heap_cases += 1;
                sort_with_depth_limit(&mut items, less, 0);
            } else {
                sort_by(&mut items, less);
            }
            let order: Vec<u64> = items.iter().map(|e| e.0).collect();
            assert_eq!(order, nums(&v["expected"]["order"]), "{}", v["id"]);
        }
        assert!(heap_cases >= 5);
    }

    #[test]
    fn heap_path_sorts() {
        let mut v: Vec<u32> = (0..100u32).map(|i| (i * 37) % 101).collect();
        heap_sort(&mut v, &mut |a: &u32, b: &u32| a < b);
        assert!(v.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn inconsistent_comparator_does_not_panic() {
        let mut v: Vec<u32> = (0..200u32).collect();
        let mut flip = false;
        sort_by(&mut v, |_, _| {
            flip = !flip;
            flip
        });
        let mut v2: Vec<u32> = (0..200u32).collect();
        sort_by(&mut v2, |_, _| true);
        assert_eq!(v2.len(), 200);
    }
}
