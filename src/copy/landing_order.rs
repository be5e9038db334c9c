//! The order a pack places blob entries in the bundle: the order their downloads are
//! expected to finish, not the order they start. Blobs start in plan order, `jobs` large
//! ones at a time sharing the link; a 200 MB layer that starts first beside three 100 MB
//! ones finishes after them. The bundle's own sha256 (for `SHA256SUMS`) can only pass an
//! entry once it is written, so an entry placed early that lands late holds back the hash
//! of everything behind it, and that hash then runs after the last byte has arrived.
//! Placing entries in their expected finishing order keeps the hash at the heels of the
//! download. The forecast assumes each running download gets an equal share of the link;
//! when it is wrong the bundle is the same bytes in another order, only hashed later.
//! It uses sizes alone, so the same plan always gives the same layout (a resumed pack
//! relies on that).

/// For blobs of `sizes`, started in that order with at most `jobs` of those of at least
/// `small` bytes at once (smaller ones start without waiting for a turn and are done
/// at once), the indices in the order they are expected to finish; ties keep plan order.
pub(super) fn landing_order(sizes: &[u64], jobs: usize, small: u64) -> Vec<usize> {
    // Time is counted in bytes moved over the whole link, so every figure is an integer
    // and the forecast is exact and the same on every machine.
    let mut finish: Vec<u128> = vec![0; sizes.len()];
    let mut running: Vec<(usize, u64)> = Vec::with_capacity(jobs.max(1));
    let mut now: u128 = 0;
    let mut next = 0;
    loop {
        while next < sizes.len() && (sizes[next] < small || running.len() < jobs.max(1)) {
            if sizes[next] < small {
                finish[next] = now;
            } else {
                running.push((next, sizes[next]));
            }
            next += 1;
        }
        let Some(step) = running.iter().map(|&(_, left)| left).min() else {
            break;
        };
        // Each of the k running downloads moves `step` bytes: k × step over the link.
        now += u128::from(step) * running.len() as u128;
        running.retain_mut(|(i, left)| {
            *left -= step;
            if *left == 0 {
                finish[*i] = now;
            }
            *left > 0
        });
    }
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|&i| (finish[i], i));
    order
}

#[cfg(test)]
mod tests {
    use super::landing_order;

    const MB: u64 = 1_000_000;

    #[test]
    fn a_large_blob_started_first_beside_smaller_ones_is_placed_after_them() {
        // The bench set's shape: a 200 MB base, then eight 100 MB layers, four at a time.
        let mut sizes = vec![200 * MB];
        sizes.extend([100 * MB; 8]);
        // 1–3 finish first; the base at 800 MB moved, with 4–6; then 7 and 8.
        assert_eq!(
            landing_order(&sizes, 4, MB),
            vec![1, 2, 3, 0, 4, 5, 6, 7, 8]
        );
    }

    #[test]
    fn small_blobs_land_when_they_start_and_equal_blobs_keep_plan_order() {
        let sizes = [5 * MB, 10, 5 * MB, 20, MB];
        // One job: blob 0 runs alone; 1 is small and starts with it; 2 waits for 0 and
        // 3 (small) waits behind 2 in the queue; 4 is not small (the bar is 1 MB).
        assert_eq!(landing_order(&sizes, 1, MB), vec![1, 0, 3, 2, 4]);
        assert_eq!(landing_order(&[7; 5], 4, MB), vec![0, 1, 2, 3, 4]);
        assert_eq!(landing_order(&[MB; 3], 4, MB), vec![0, 1, 2]);
        assert!(landing_order(&[], 4, MB).is_empty());
        // No jobs given still runs one at a time rather than none.
        assert_eq!(landing_order(&[2 * MB, MB], 0, MB), vec![0, 1]);
    }
}
