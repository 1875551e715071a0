//! Asks that arrive while a statement of their kind runs go together in the next one.
//!
//! One task takes every ask waiting and answers them with one call (a claim for as many
//! worker slots, the ends of as many jobs, the submits of as many requests), one call at a
//! time: an ask that finds none running goes out at once, so a lone job waits for nothing
//! and never on a timer, and under load each statement serves as many asks as arrived
//! while the one before ran.

use std::{future::Future, sync::Arc};

use crate::{db, trips};
use futures::future::BoxFuture;
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

struct Ask<A, R> {
    what: A,
    answer: oneshot::Sender<R>,
}

/// Gathers asks `A` into calls that answer each with an `R`; dropping the last clone
/// stops its task once the call in flight has answered.
pub struct Gather<A, R> {
    asks: mpsc::UnboundedSender<Ask<A, R>>,
}

impl<A, R> Clone for Gather<A, R> {
    fn clone(&self) -> Self {
        Self {
            asks: self.asks.clone(),
        }
    }
}

impl<A: Send + 'static, R: Send + 'static> Gather<A, R> {
    /// Starts the task that answers asks, at most `most` a call, with `call`, which
    /// returns one answer an ask, in their order. Must be called inside a Tokio runtime.
    pub fn start<F, Fut>(most: usize, call: F) -> Self
    where
        F: Fn(Vec<A>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<R>> + Send + 'static,
    {
        let (asks, waiting) = mpsc::unbounded_channel();
        tokio::spawn(answer(waiting, most.max(1), call));
        Self { asks }
    }

    /// The answer to `what`, given with whatever else was asked meanwhile; `None` when
    /// the task is gone (the worker stops) or the call serving it panicked.
    pub async fn ask(&self, what: A) -> Option<R> {
        let (answer, answered) = oneshot::channel();
        self.asks.send(Ask { what, answer }).ok()?;
        answered.await.ok()
    }
}

/// What a gathered statement answers an ask: its rows, or its error (one shared by the
/// asks of a group whose statement could not reach the database).
pub type Gathered<T> = Result<T, Arc<sqlx::Error>>;

impl<A: Send + 'static, T: Send + 'static> Gather<A, Gathered<T>> {
    /// [`Gather::ask`] for a statement: a task gone (the worker stops), or a call that
    /// panicked, comes back as a closed pool (what the statement wrote stays fenced).
    pub async fn statement(&self, what: A) -> Gathered<T> {
        self.ask(what)
            .await
            .unwrap_or_else(|| Err(Arc::new(sqlx::Error::PoolClosed)))
    }
}

async fn answer<A, R, F, Fut>(mut waiting: mpsc::UnboundedReceiver<Ask<A, R>>, most: usize, call: F)
where
    A: Send + 'static,
    R: Send + 'static,
    F: Fn(Vec<A>) -> Fut,
    Fut: Future<Output = Vec<R>> + Send + 'static,
{
    while let Some(first) = waiting.recv().await {
        let mut batch = vec![first];
        while batch.len() < most
            && let Ok(ask) = waiting.try_recv()
        {
            batch.push(ask);
        }
        let (whats, answers): (Vec<A>, Vec<oneshot::Sender<R>>) =
            batch.into_iter().map(|ask| (ask.what, ask.answer)).unzip();
        // On a task of its own, so that a panic loses only this call's answers.
        if let Ok(results) = tokio::spawn(call(whats)).await {
            for (answer, result) in answers.into_iter().zip(results) {
                let _ = answer.send(result);
            }
        }
    }
}

/// Runs `statement` for `asks` together; should it fail otherwise than by an unreachable
/// database, runs it again for each ask alone, so that one ask's failing part fails only
/// that ask. `statement` answers one `T` an ask, in their order; `what` names it for the log.
pub async fn together_or_alone<A, T>(
    asks: &[A],
    what: &'static str,
    statement: impl for<'a> Fn(&'a [A]) -> BoxFuture<'a, sqlx::Result<Vec<T>>>,
) -> Vec<Gathered<T>> {
    let error = match statement(asks).await {
        Ok(answers) => return answers.into_iter().map(Ok).collect(),
        Err(error) => Arc::new(error),
    };
    if asks.len() == 1 || db::is_unavailable(&error) {
        tracing::warn!(asks = asks.len(), error = %error, "{what} failed");
        return asks.iter().map(|_| Err(error.clone())).collect();
    }
    tracing::warn!(asks = asks.len(), error = %error, "{what} failed for a group; trying each alone");
    let mut answers = Vec::with_capacity(asks.len());
    for ask in asks {
        answers.push(match statement(std::slice::from_ref(ask)).await {
            Ok(mut one) => one.pop().ok_or_else(|| Arc::new(sqlx::Error::RowNotFound)),
            Err(error) => {
                tracing::warn!(error = %error, "{what} failed");
                Err(Arc::new(error))
            }
        });
    }
    answers
}

/// A statement for several asks: its rows, one an ask, in their order.
pub type Statement<A, T> = for<'a> fn(&'a PgPool, &'a [A]) -> BoxFuture<'a, sqlx::Result<Vec<T>>>;

/// Starts the task that runs `statement` for the asks gathered, at most `most` at once, each
/// run counted as `step` of `kind`'s round trips; a group whose statement fails goes again
/// one ask at a time ([`together_or_alone`], which names it `what` in the log). Must be
/// called inside a Tokio runtime.
pub fn statements<A, T>(
    pool: &PgPool,
    most: usize,
    what: &'static str,
    (kind, step): (trips::Kind, trips::Step),
    statement: Statement<A, T>,
) -> Gather<A, Gathered<T>>
where
    A: Send + Sync + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    Gather::start(most, move |asks: Vec<A>| {
        let pool = pool.clone();
        async move {
            together_or_alone(&asks, what, |asks| {
                let pool = pool.clone();
                Box::pin(async move { trips::scope(kind, step, statement(&pool, asks)).await })
            })
            .await
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tokio::sync::Notify;

    /// An ask that finds no call running goes at once; those that arrive while it runs
    /// go together in the next call, each answered in its order.
    #[tokio::test]
    async fn asks_arriving_during_a_call_go_together_in_the_next() {
        let calls = Arc::new(Mutex::new(Vec::<Vec<u32>>::new()));
        let release = Arc::new(Notify::new());
        let gather = {
            let (calls, release) = (calls.clone(), release.clone());
            Gather::start(10, move |asks: Vec<u32>| {
                let (calls, release) = (calls.clone(), release.clone());
                async move {
                    let first = calls.lock().unwrap().is_empty();
                    calls.lock().unwrap().push(asks.clone());
                    if first {
                        release.notified().await;
                    }
                    asks.into_iter().map(|n| n * 10).collect()
                }
            })
        };
        let lone = tokio::spawn({
            let gather = gather.clone();
            async move { gather.ask(1).await }
        });
        // The first call is running (it recorded its asks) before the others are sent.
        while calls.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        // The later asks are queued while the first call runs.
        let later: Vec<_> = (2..=4)
            .map(|what| {
                let (answer, answered) = oneshot::channel();
                assert!(gather.asks.send(Ask { what, answer }).is_ok());
                answered
            })
            .collect();
        release.notify_one();
        assert_eq!(lone.await.unwrap(), Some(10));
        let mut answers = Vec::new();
        for answered in later {
            answers.push(answered.await.unwrap());
        }
        assert_eq!(answers, vec![20, 30, 40]);
        assert_eq!(*calls.lock().unwrap(), vec![vec![1], vec![2, 3, 4]]);
    }

    /// A group whose statement fails goes again one ask at a time: only the ask whose part
    /// failed gets the error; one that cannot reach the database fails every ask at once.
    #[tokio::test]
    async fn a_failing_part_fails_only_its_own_ask() {
        let calls = Mutex::new(Vec::<Vec<i32>>::new());
        let answers = together_or_alone(&[1, -2, 3], "squaring", |asks: &[i32]| {
            calls.lock().unwrap().push(asks.to_vec());
            let answer = if asks.iter().any(|n| *n < 0) {
                Err(sqlx::Error::Protocol("a negative number".into()))
            } else {
                Ok(asks.iter().map(|n| n * n).collect())
            };
            Box::pin(std::future::ready(answer))
        })
        .await;
        let answers: Vec<Option<i32>> = answers.into_iter().map(Result::ok).collect();
        assert_eq!(answers, vec![Some(1), None, Some(9)]);
        assert_eq!(
            *calls.lock().unwrap(),
            vec![vec![1, -2, 3], vec![1], vec![-2], vec![3]]
        );

        let unreachable = together_or_alone(&[1, 2], "squaring", |_: &[i32]| {
            Box::pin(std::future::ready(Err::<Vec<i32>, _>(
                sqlx::Error::PoolTimedOut,
            )))
        })
        .await;
        assert!(unreachable.iter().all(Result::is_err));
        assert_eq!(unreachable.len(), 2);
    }
}
