//! A video's upload session as the intent keeps it (its address, the intent's marker and
//! the video's size), the description that ends with the marker, and a lost answer read
//! back: the session's status, else the channel's uploads by the marker.

use super::{MARKER_PREFIX, YouTube, api::unanswered_failure, is_video_id, video_id};
use crate::{Auth, Failure, Post, Remote, Reply, platforms::bluesky::tid};

impl YouTube {
    /// The session's status, read (`size`: the bytes the whole video has); a session
    /// YouTube no longer knows sends the search to the channel's uploads, for `marker`.
    pub(super) async fn session_status(
        &self,
        auth: &Auth,
        (session, marker, size): (&str, &str, usize),
    ) -> Remote {
        let request = self
            .api.http
            .put(session)
            .header("content-range", format!("bytes */{size}"))
            .header("content-length", "0");
        let answered = match self.exchange(request, &auth.access_token).await {
            Ok(answered) => answered,
            Err(unanswered) => {
                return Remote::Pending(unanswered_failure("upload", unanswered).message);
            }
        };
        match answered.status {
            200 | 201 => Remote::Published {
                post_id: video_id(&answered.body),
            },
            308 => Remote::Failed(
                Failure::permanent(
                    "NOT_PUBLISHED",
                    "the upload stopped before the video's end: YouTube made no video of it; publish it again",
                )
                .platform("308"),
            ),
            404 | 410 => match self.in_uploads(auth, marker).await {
                Ok(Some(id)) => Remote::Published { post_id: Some(id) },
                Ok(None) => Remote::Pending("the channel's uploads do not show it".into()),
                Err(reason) => Remote::Pending(reason),
            },
            status => Remote::Pending(format!("YouTube answered {status} about the upload")),
        }
    }

    /// The video of the channel's uploads whose description ends with `marker`.
    async fn in_uploads(&self, auth: &Auth, marker: &str) -> Result<Option<String>, String> {
        let channel = self
            .channel(&auth.access_token)
            .await
            .map_err(|f| f.message)?;
        let Some(uploads) = channel
            .as_ref()
            .and_then(|c| c["contentDetails"]["relatedPlaylists"]["uploads"].as_str())
        else {
            return Ok(None);
        };
        let request = self
            .api.http
            .get(self.url("/youtube/v3/playlistItems"))
            .query(&[
                ("part", "snippet"),
                ("playlistId", uploads),
                ("maxResults", "50"),
            ]);
        let body = match self.call(request, &auth.access_token).await {
            Reply::Ok(body) => body,
            Reply::Refused(failure) => return Err(failure.message),
            Reply::Lost(reason, _) => return Err(reason),
        };
        Ok(body["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|item| {
                item["snippet"]["description"]
                    .as_str()
                    .is_some_and(|d| d.ends_with(marker))
            })
            .and_then(|item| item["snippet"]["resourceId"]["videoId"].as_str())
            .filter(|id| is_video_id(id))
            .map(str::to_owned))
    }
}

/// The marker line ending a post's description: its intent's TID.
pub(super) fn marker(post: &Post) -> String {
    let tid = post
        .intent_id
        .and_then(tid::of_intent)
        .unwrap_or_else(|| "<intent-tid>".into());
    format!("{MARKER_PREFIX}{tid}")
}

/// The description a video goes out with: the entry's text, then the marker.
pub(super) fn description(post: &Post) -> String {
    match post.text.trim().is_empty() {
        true => marker(post),
        false => format!("{}\n\n{}", post.text, marker(post)),
    }
}

/// The session's address as the intent keeps it: with its intent's marker and the video's
/// size, in a fragment (never sent).
pub(super) fn session_remote(session: &str, post: &Post, size: usize) -> String {
    format!("{session}#{}|{size}", marker(post))
}

/// The session, its marker and the video's size, from the intent's remote id.
pub(super) fn session_parts(remote: &str) -> Option<(&str, &str, usize)> {
    let (session, fragment) = remote.split_once('#')?;
    let (marker, size) = fragment.split_once('|')?;
    Some((session, marker, size.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platforms::youtube::MARKER_BYTES;

    #[test]
    fn a_session_keeps_its_marker_and_size_in_a_fragment_never_sent() {
        let mut post = Post::of_entry(
            uuid::Uuid::nil(),
            "Launch",
            "Hello",
            "",
            &[],
            "short video",
            Some("https://cdn.example.com/a.mp4"),
        );
        post.intent_id = Some(uuid::Uuid::now_v7());
        let remote = session_remote("https://up.example.com/s?upload_id=1", &post, 42);
        let (session, marker, size) = session_parts(&remote).unwrap();
        assert_eq!(session, "https://up.example.com/s?upload_id=1");
        assert_eq!(size, 42);
        assert_eq!(marker.len(), MARKER_BYTES - 2);
        assert!(description(&post).ends_with(&format!("\n\n{marker}")));
        assert_eq!(description(&post).len(), post.text.len() + MARKER_BYTES);
    }
}
