//! Work spread over every core with scoped threads: an order-keeping map for
//! stages that turn a list into a list, and a for-each for the walk. A leaf: it
//! knows nothing of the pipeline.

use std::sync::atomic::{AtomicUsize, Ordering};

/// `items.iter().map(f)`, on every core, in the order of `items`. Each thread,
/// the calling one among them, takes the next block of items as it is free:
/// items may cost very different times, and a fixed share per thread left
/// one core idle while the other finished its half.
pub fn map<'a, T: Sync, R: Send>(items: &'a [T], f: impl Fn(&'a T) -> R + Sync) -> Vec<R> {
    let threads = threads();
    // Small inputs are not worth a thread.
    if threads < 2 || items.len() < 64 {
        return items.iter().map(f).collect();
    }
    // Blocks small enough to even out the threads' ends, large enough that
    // claiming one costs nothing beside mapping it.
    let block = (items.len() / (threads * 16)).clamp(8, 256);
    let blocks: Vec<&'a [T]> = items.chunks(block).collect();
    let next = AtomicUsize::new(0);
    let mut mapped: Vec<(usize, Vec<R>)> = on_threads(threads, || {
        let mut mine = Vec::new();
        while let Some((i, part)) = claim(&next, &blocks) {
            mine.push((i, part.iter().map(&f).collect()));
        }
        mine
    })
    .into_iter()
    .flatten()
    .collect();
    mapped.sort_unstable_by_key(|(i, _)| *i);
    mapped.into_iter().flat_map(|(_, part)| part).collect()
}

/// Runs `each` on every item, on every core, each thread taking the next item
/// as it is free (items may cost very different times).
pub fn for_each<T: Sync>(items: &[T], each: &(impl Fn(&T) + Sync)) {
    let next = AtomicUsize::new(0);
    on_threads(threads().min(items.len()), || {
        while let Some((_, item)) = claim(&next, items) {
            each(item);
        }
    });
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `work` on `threads` threads, the calling one among them, and returns
/// what each returned (a panic in one is resumed here).
fn on_threads<R: Send>(threads: usize, work: impl Fn() -> R + Sync) -> Vec<R> {
    let work = &work;
    std::thread::scope(|scope| {
        let others: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mut all = vec![work()];
        all.extend(others.into_iter().map(|other| {
            other
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e))
        }));
        all
    })
}

/// The next of `parts` no thread has taken yet, with its index.
fn claim<'p, P>(next: &AtomicUsize, parts: &'p [P]) -> Option<(usize, &'p P)> {
    let i = next.fetch_add(1, Ordering::Relaxed);
    parts.get(i).map(|part| (i, part))
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
