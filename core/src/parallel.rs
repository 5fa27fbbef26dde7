//! Work spread over the device's cores: an order-keeping parallel map on scoped
//! threads, and cutting a list of items into runs for it.

/// Below this many items, [`par_map`] does not bother starting threads.
pub(crate) const PARALLEL_FROM: usize = 64;

/// How many threads parallel work uses: the available cores, at most 8.
pub(crate) fn threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8)
}

/// `items` cut into runs of `len` (the last may be shorter), in order.
pub(crate) fn chunked<T>(items: Vec<T>, len: usize) -> Vec<Vec<T>> {
    let mut out = Vec::with_capacity(items.len().div_ceil(len.max(1)));
    let mut it = items.into_iter().peekable();
    while it.peek().is_some() {
        out.push(it.by_ref().take(len.max(1)).collect());
    }
    out
}

/// Maps `f` over `items` on up to 8 threads, keeping the order.
pub(crate) fn par_map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    par_map_from(items, PARALLEL_FROM, f)
}

/// [`par_map`] for items that are each a lot of work: threads start from `from` items.
pub(crate) fn par_map_from<T: Send, R: Send>(
    items: Vec<T>,
    from: usize,
    f: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let threads = threads();
    if threads == 1 || items.len() < from.max(2) {
        return items.into_iter().map(f).collect();
    }
    // Workers (this thread among them) take small runs of items as they go, so that one
    // core slowed by something else does not hold up the whole map.
    let total = items.len();
    let grain = (total / (threads * 16)).max(1);
    let queue = std::sync::Mutex::new(items.into_iter().enumerate());
    let work = || {
        let mut done: Vec<(usize, R)> = Vec::new();
        loop {
            let run: Vec<(usize, T)> = match queue.lock() {
                Ok(mut q) => q.by_ref().take(grain).collect(),
                // Another worker panicked; its panic is re-raised below.
                Err(_) => break,
            };
            if run.is_empty() {
                break;
            }
            done.extend(run.into_iter().map(|(i, item)| (i, f(item))));
        }
        done
    };
    let mut all: Vec<(usize, R)> = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mut all = work();
        for h in helpers {
            match h.join() {
                Ok(done) => all.extend(done),
                // A panic in a worker is a bug: re-raise it on the caller's thread.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        all
    });
    all.sort_unstable_by_key(|(i, _)| *i);
    debug_assert_eq!(all.len(), total);
    all.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_keep_their_order_and_runs_cover_everything() {
        let items: Vec<u32> = (0..1000).collect();
        let doubled = par_map(items.clone(), |x| x * 2);
        assert_eq!(doubled, items.iter().map(|x| x * 2).collect::<Vec<_>>());
        assert_eq!(par_map_from(vec![1, 2], 2, |x| x + 1), vec![2, 3]);
        let runs = chunked(items.clone(), 64);
        assert_eq!(runs.len(), 16);
        assert_eq!(runs[15].len(), 1000 - 15 * 64);
        assert_eq!(runs.concat(), items);
        assert!(chunked(Vec::<u8>::new(), 8).is_empty());
    }
}
