//! Where media bytes live: a directory or an S3-compatible bucket, through `object_store`.
//! An object's key is its owner and its id (`<user>/<id>`, `<user>/<id>.jpg` for the JPEG
//! copy, `<user>/<id>.poster.jpg` for a video's poster frame), under the configured prefix.

use std::{ops::Range, sync::Arc};

use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::{
    ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart, aws::AmazonS3Builder,
    local::LocalFileSystem, path::Path, prefix::PrefixStore,
};
use uuid::Uuid;

use super::token::Copy;
use crate::config::{MediaSettings, MediaStoreLocation};

/// Parts an upload keeps in flight to the store at once (each at most the write buffer,
/// 5 MiB): what one upload may hold in memory.
const PARTS_IN_FLIGHT: usize = 2;

#[derive(Clone)]
pub struct MediaStore {
    inner: Arc<dyn ObjectStore>,
    /// `file://…` or `s3://…`, for logs.
    pub describe: String,
}

impl std::fmt::Debug for MediaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaStore")
            .field("at", &self.describe)
            .finish()
    }
}

/// The key of `copy` of the media `id` of `user`.
pub fn key(user: Uuid, id: Uuid, copy: Copy) -> String {
    match copy {
        Copy::Original => format!("{user}/{id}"),
        Copy::Jpeg => format!("{user}/{id}.jpg"),
        Copy::Poster => format!("{user}/{id}.poster.jpg"),
    }
}

impl MediaStore {
    /// The store `MEDIA_STORE` names (a directory is made when missing).
    pub fn open(settings: &MediaSettings) -> anyhow::Result<Self> {
        match &settings.store {
            MediaStoreLocation::Directory(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| anyhow::anyhow!("MEDIA_STORE: cannot make `{dir}`: {e}"))?;
                let local = LocalFileSystem::new_with_prefix(dir)
                    .map_err(|e| anyhow::anyhow!("MEDIA_STORE: `{dir}`: {e}"))?;
                Ok(Self {
                    inner: Arc::new(local),
                    describe: format!("file://{dir}"),
                })
            }
            MediaStoreLocation::S3 {
                bucket,
                prefix,
                endpoint,
                region,
                access_key_id,
                secret_access_key,
            } => {
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(region);
                if let Some(endpoint) = endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"));
                }
                if let Some(id) = access_key_id {
                    builder = builder.with_access_key_id(id);
                }
                if let Some(secret) = secret_access_key {
                    builder = builder.with_secret_access_key(secret.expose());
                }
                let s3 = builder
                    .build()
                    .map_err(|e| anyhow::anyhow!("MEDIA_STORE: `s3://{bucket}`: {e}"))?;
                let inner: Arc<dyn ObjectStore> = if prefix.is_empty() {
                    Arc::new(s3)
                } else {
                    Arc::new(PrefixStore::new(s3, prefix.as_str()))
                };
                Ok(Self {
                    inner,
                    describe: format!("s3://{bucket}/{prefix}"),
                })
            }
        }
    }

    /// An upload of `key`, written part by part.
    pub async fn writer(&self, key: &str) -> object_store::Result<Writer> {
        let upload = self.inner.put_multipart(&Path::from(key)).await?;
        Ok(Writer(WriteMultipart::new(upload)))
    }

    /// `bytes` as `key`, whole (a JPEG copy).
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> object_store::Result<()> {
        self.inner
            .put(&Path::from(key), PutPayload::from(bytes))
            .await
            .map(drop)
    }

    /// The object `key`, whole (an image, at most 8 MiB).
    pub async fn read(&self, key: &str) -> object_store::Result<Bytes> {
        self.inner.get(&Path::from(key)).await?.bytes().await
    }

    /// The bytes `range` of the object `key` (a video's box headers).
    pub async fn read_range(&self, key: &str, range: Range<u64>) -> object_store::Result<Bytes> {
        self.inner.get_range(&Path::from(key), range).await
    }

    /// The object `key` as a stream, with its size.
    pub async fn stream(
        &self,
        key: &str,
    ) -> object_store::Result<(u64, BoxStream<'static, object_store::Result<Bytes>>)> {
        let got = self.inner.get(&Path::from(key)).await?;
        Ok((got.meta.size, got.into_stream()))
    }

    /// Removes `key`; one already gone is no error.
    pub async fn delete(&self, key: &str) -> object_store::Result<()> {
        match self.inner.delete(&Path::from(key)).await {
            Err(object_store::Error::NotFound { .. }) => Ok(()),
            other => other,
        }
    }
}

/// An object being written: parts go to the store as they fill, at most
/// [`PARTS_IN_FLIGHT`] at a time, so an upload of any size holds a few parts in memory.
pub struct Writer(WriteMultipart);

impl Writer {
    pub async fn write(&mut self, chunk: &[u8]) -> object_store::Result<()> {
        self.0.wait_for_capacity(PARTS_IN_FLIGHT).await?;
        self.0.write(chunk);
        Ok(())
    }

    pub async fn finish(self) -> object_store::Result<()> {
        self.0.finish().await.map(drop)
    }

    /// Gives the upload up: nothing is left in the store.
    pub async fn abort(self) {
        if let Err(error) = self.0.abort().await {
            tracing::warn!(%error, "an aborted media upload could not be cleaned up");
        }
    }
}
