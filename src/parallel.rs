//! Work spread over every core with scoped threads: an order-keeping map for
//! stages that turn a list into a list, and a for-each for the walk. A leaf: it
//! knows nothing of the pipeline.

use std::sync::atomic::{AtomicUsize, Ordering};

/// `items.iter().map(f)`, on every core, in the order of `items`. Each thread,
/// the calling one among them, takes the next block of items as it is free:
/// items may cost very different times, and a fixed share per thread left
/// one core idle while the other finished its half.
pub fn map<'a, T: Sync, R: Send>(items: &'a [T], f: impl Fn(&'a T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Small inputs are not worth a thread.
    if threads < 2 || items.len() < 64 {
        return items.iter().map(f).collect();
    }
    // Blocks small enough to even out the threads' ends, large enough that
    // claiming one costs nothing beside mapping it.
    let block = (items.len() / (threads * 16)).clamp(8, 256);
    let blocks: Vec<&'a [T]> = items.chunks(block).collect();
    let next = AtomicUsize::new(0);
    let work = || {
        let mut mapped = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(part) = blocks.get(i) else {
                break mapped;
            };
            mapped.push((i, part.iter().map(&f).collect::<Vec<R>>()));
        }
    };
    let mut mapped = std::thread::scope(|scope| {
        let others: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mut mapped = work();
        for other in others {
            mapped.extend(
                other
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e)),
            );
        }
        mapped
    });
    mapped.sort_unstable_by_key(|(i, _)| *i);
    mapped.into_iter().flat_map(|(_, part)| part).collect()
}

/// Runs `each` on every item, on every core, each thread taking the next item
/// as it is free (items may cost very different times).
pub fn for_each<T: Sync>(items: &[T], each: &(impl Fn(&T) + Sync)) {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads.min(items.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    each(item);
                }
            });
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn map_keeps_the_order_of_its_input() {
        let items: Vec<u32> = (0..1000).collect();
        assert_eq!(
            super::map(&items, |i| i * 2),
            items.iter().map(|i| i * 2).collect::<Vec<_>>()
        );
    }

    #[test]
    fn map_keeps_the_order_when_items_cost_unevenly() {
        for n in [64, 65, 1001, 40_000] {
            let items: Vec<u64> = (0..n).collect();
            let slow = |i: &u64| {
                // A few items take far longer than the rest, as a file with a
                // large diff does beside files without one.
                let spins = if i.is_multiple_of(97) { 20_000 } else { 1 };
                (0..spins).fold(*i, |acc, _| std::hint::black_box(acc))
            };
            assert_eq!(super::map(&items, slow), items);
        }
    }

    #[test]
    fn for_each_visits_every_item_once() {
        let items: Vec<usize> = (0..1000).collect();
        let seen = std::sync::Mutex::new(Vec::new());
        super::for_each(&items, &|i: &usize| seen.lock().unwrap().push(*i));
        let mut seen = seen.into_inner().unwrap();
        seen.sort();
        assert_eq!(seen, items);
    }
}
