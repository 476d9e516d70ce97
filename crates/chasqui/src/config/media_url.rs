//! `storage.media_url`: the object store that keeps media bytes when it is not the local
//! `storage.media_dir`, checked when the configuration loads so a typo stops start-up (and
//! `chasqui config check`) instead of failing the first download.
//!
//! Accepted forms: `s3://BUCKET[/PREFIX]` (Amazon S3 and S3-compatible stores such as MinIO),
//! `gs://BUCKET[/PREFIX]` (Google Cloud Storage) and `file:///ABSOLUTE/PATH` (a local directory).
//! Credentials never go in the URL: they come from the environment (`AWS_*`, `GOOGLE_*`), see
//! [`ObjectStoreEnv`].

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;

use object_store::path::Path as ObjectPath;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Url;

/// What `storage.media_url` accepts, in words (error messages and docs use the same text).
pub(super) const EXPECTED: &str = "s3://BUCKET/PREFIX (Amazon S3, or MinIO and other S3-compatible \
     stores with AWS_ENDPOINT_URL), gs://BUCKET/PREFIX (Google Cloud Storage) or \
     file:///ABSOLUTE/PATH (a local directory); the /PREFIX is optional";

/// A checked `storage.media_url`: which object store holds media bytes, and under which prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaUrl {
    /// `s3://BUCKET/PREFIX`: Amazon S3 or an S3-compatible store (endpoint from the environment).
    S3 {
        /// The bucket.
        bucket: String,
        /// Every key is stored under it (empty: the bucket's root).
        prefix: ObjectPath,
    },
    /// `gs://BUCKET/PREFIX`: Google Cloud Storage.
    Gcs {
        /// The bucket.
        bucket: String,
        /// Every key is stored under it (empty: the bucket's root).
        prefix: ObjectPath,
    },
    /// `file:///PATH`: a local directory, the same as `storage.media_dir`.
    File {
        /// The directory.
        dir: PathBuf,
    },
}

impl MediaUrl {
    /// Parses and checks a media store URL; the error says what is wrong without repeating any
    /// credentials the URL may carry.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let url = Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
        let scheme = url.scheme();
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "credentials do not belong in the URL; set them in the environment \
                 (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for S3, GOOGLE_SERVICE_ACCOUNT or \
                 GOOGLE_APPLICATION_CREDENTIALS for GCS)"
                    .to_owned(),
            );
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(
                "the URL has a query or fragment; options such as the region or the \
                 endpoint come from the environment (AWS_REGION, AWS_ENDPOINT_URL)"
                    .to_owned(),
            );
        }
        match scheme {
            "s3" | "gs" => {
                let bucket = url.host_str().unwrap_or_default();
                if bucket.is_empty() {
                    return Err(format!(
                        "the URL names no bucket; write {scheme}://BUCKET/PREFIX"
                    ));
                }
                if url.port().is_some() {
                    return Err(format!(
                        "a {scheme}:// URL takes no port; an S3-compatible server's address \
                         goes in AWS_ENDPOINT_URL"
                    ));
                }
                check_bucket(scheme, bucket)?;
                let prefix = ObjectPath::from_url_path(url.path()).map_err(|e| {
                    format!(
                        "the prefix `{}` is not a valid object path ({e})",
                        url.path().trim_start_matches('/')
                    )
                })?;
                let bucket = bucket.to_owned();
                Ok(if scheme == "s3" {
                    Self::S3 { bucket, prefix }
                } else {
                    Self::Gcs { bucket, prefix }
                })
            }
            "file" => {
                if url.host_str().is_some_and(|h| !h.is_empty()) {
                    return Err(format!(
                        "a file:// URL names a host (`{}`); write file:///ABSOLUTE/PATH, with \
                         three slashes",
                        url.host_str().unwrap_or_default()
                    ));
                }
                let starts = |p: &str| {
                    raw.get(..p.len())
                        .is_some_and(|head| head.eq_ignore_ascii_case(p))
                };
                if !starts("file:///") && !starts("file://localhost/") {
                    return Err(
                        "a file URL must hold an absolute path: file:///ABSOLUTE/PATH".to_owned(),
                    );
                }
                let dir = url
                    .to_file_path()
                    .map_err(|()| "the file URL is not a local path".to_owned())?;
                Ok(Self::File { dir })
            }
            other => Err(format!("the scheme `{other}` is not a media store")),
        }
    }

    /// The bucket or directory and prefix, as a URL (no credentials: the URL never has any).
    pub fn as_url(&self) -> String {
        let with_prefix = |scheme: &str, bucket: &str, prefix: &ObjectPath| {
            if prefix.as_ref().is_empty() {
                format!("{scheme}://{bucket}")
            } else {
                format!("{scheme}://{bucket}/{}", prefix.as_ref())
            }
        };
        match self {
            Self::S3 { bucket, prefix } => with_prefix("s3", bucket, prefix),
            Self::Gcs { bucket, prefix } => with_prefix("gs", bucket, prefix),
            Self::File { dir } => Url::from_file_path(dir)
                .map_or_else(|()| format!("file://{}", dir.display()), String::from),
        }
    }
}

impl fmt::Display for MediaUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_url())
    }
}

impl Serialize for MediaUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_url())
    }
}

/// Bucket names as S3 and GCS accept them: lowercase letters, digits, dots and hyphens (GCS also
/// underscores), starting and ending with a letter or digit; 3 to 63 characters (GCS: up to
/// 222 when the name has dots).
fn check_bucket(scheme: &str, bucket: &str) -> Result<(), String> {
    let gcs = scheme == "gs";
    let max = if gcs && bucket.contains('.') { 222 } else { 63 };
    let allowed = |c: char| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-' || (gcs && c == '_')
    };
    let edges_ok =
        |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if (3..=max).contains(&bucket.len())
        && bucket.chars().all(allowed)
        && edges_ok(bucket.chars().next())
        && edges_ok(bucket.chars().last())
    {
        return Ok(());
    }
    let rule = if gcs {
        "3 to 63 lowercase letters, digits, dots, hyphens and underscores"
    } else {
        "3 to 63 lowercase letters, digits, dots and hyphens"
    };
    Err(format!(
        "`{bucket}` is not a valid bucket name: bucket names are {rule}, starting and ending \
         with a letter or digit"
    ))
}

pub(super) fn de_media_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<MediaUrl>, D::Error> {
    let s = String::deserialize(d)?;
    MediaUrl::parse(&s)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// The environment variables the S3 and GCS clients read (`AWS_*`, `GOOGLE_*`, `SERVICE_ACCOUNT`,
/// the names `object_store`'s `from_env()` reads), taken from the environment the configuration
/// was loaded from, so tests can hand them over without touching the process environment.
/// Values may be credentials: `Debug` shows the names only.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct ObjectStoreEnv(BTreeMap<String, String>);

impl ObjectStoreEnv {
    /// Keeps the object store variables of `env` (empty values count as unset).
    pub fn from_env(env: &HashMap<String, String>) -> Self {
        Self(
            env.iter()
                .filter(|(k, v)| is_object_store_var(k) && !v.trim().is_empty())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }

    /// The variables, name and value, sorted by name. Values may be secret: never log them.
    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The names of the variables that are set (safe to show).
    pub fn names(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

impl fmt::Debug for ObjectStoreEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// Whether `object_store` reads this variable.
fn is_object_store_var(name: &str) -> bool {
    name.starts_with("AWS_") || name.starts_with("GOOGLE_") || name == "SERVICE_ACCOUNT"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> MediaUrl {
        MediaUrl::parse(raw).unwrap_or_else(|e| panic!("{raw} refused: {e}"))
    }

    fn err(raw: &str) -> String {
        match MediaUrl::parse(raw) {
            Ok(u) => panic!("{raw} accepted as {u:?}"),
            Err(e) => e,
        }
    }

    fn s3(bucket: &str, prefix: &str) -> MediaUrl {
        MediaUrl::S3 {
            bucket: bucket.to_owned(),
            prefix: ObjectPath::parse(prefix).expect("prefix"),
        }
    }

    #[test]
    fn s3_urls_give_the_bucket_and_the_prefix() {
        assert_eq!(ok("s3://chasqui-media"), s3("chasqui-media", ""));
        assert_eq!(ok("s3://chasqui-media/"), s3("chasqui-media", ""));
        assert_eq!(ok("s3://chasqui-media/prod"), s3("chasqui-media", "prod"));
        assert_eq!(
            ok(" S3://chasqui.media/prod/eu-1/ "),
            s3("chasqui.media", "prod/eu-1"),
            "scheme in any case, spaces and a trailing slash are fine"
        );
        assert_eq!(
            ok("s3://b12/with%20space"),
            s3("b12", "with space"),
            "percent-escapes are decoded"
        );
    }

    #[test]
    fn gcs_and_file_urls_are_accepted() {
        assert_eq!(
            ok("gs://my_bucket/media"),
            MediaUrl::Gcs {
                bucket: "my_bucket".into(),
                prefix: ObjectPath::parse("media").expect("prefix"),
            }
        );
        assert_eq!(
            ok("file:///var/lib/chasqui/media"),
            MediaUrl::File {
                dir: PathBuf::from("/var/lib/chasqui/media")
            }
        );
        assert_eq!(
            ok("file://localhost/srv/media"),
            MediaUrl::File {
                dir: PathBuf::from("/srv/media")
            }
        );
    }

    #[test]
    fn the_canonical_url_round_trips() {
        for raw in [
            "s3://bucket",
            "s3://bucket/a/b",
            "gs://bucket/media",
            "file:///srv/media",
        ] {
            let url = ok(raw);
            assert_eq!(url.as_url(), raw);
            assert_eq!(ok(&url.to_string()), url);
        }
        assert_eq!(ok("s3://bucket/a/b/").as_url(), "s3://bucket/a/b");
    }

    #[test]
    fn unknown_schemes_are_refused_by_name() {
        for (raw, scheme) in [
            ("ftp://host/media", "ftp"),
            ("https://bucket.s3.amazonaws.com/media", "https"),
            ("az://container/media", "az"),
            ("s3a://bucket/media", "s3a"),
            ("/var/lib/media:x", ""),
        ] {
            let e = err(raw);
            if scheme.is_empty() {
                assert!(e.contains("not a URL"), "{raw}: {e}");
            } else {
                assert!(
                    e.contains(&format!("the scheme `{scheme}` is not a media store")),
                    "{raw}: {e}"
                );
            }
        }
        assert!(err("/var/lib/chasqui/media").contains("not a URL"));
        assert!(err("bucket/prefix").contains("not a URL"));
        assert!(err("").contains("not a URL"));
    }

    #[test]
    fn bad_buckets_and_prefixes_are_explained() {
        assert!(err("s3:///prefix").contains("names no bucket"));
        assert!(err("s3:prefix").contains("names no bucket"));
        let e = err("s3://My_Bucket/x");
        assert!(e.contains("`My_Bucket` is not a valid bucket name"), "{e}");
        assert!(err("s3://ab").contains("not a valid bucket name"));
        assert!(err("s3://-bucket").contains("not a valid bucket name"));
        assert!(err(&format!("s3://{}", "b".repeat(64))).contains("not a valid bucket name"));
        assert!(err("s3://bucket:9000/x").contains("AWS_ENDPOINT_URL"));
        let e = err("s3://bucket/a//b");
        assert!(
            e.contains("the prefix `a//b` is not a valid object path"),
            "{e}"
        );
        assert!(err("s3://bucket/a%01b").contains("not a valid object path"));
        assert!(err("s3://bucket/x?region=eu-west-1").contains("AWS_REGION"));
        assert!(err("gs://bucket/x#frag").contains("query or fragment"));
    }

    #[test]
    fn credentials_in_the_url_are_refused_without_being_repeated() {
        for raw in [
            "s3://AKIAEXAMPLE:wJalrXUtnFEMI@bucket/media",
            "s3://wJalrXUtnFEMI@bucket/media",
            "gs://user:pa55word@bucket",
        ] {
            let e = err(raw);
            assert!(e.contains("credentials do not belong in the URL"), "{e}");
            assert!(
                !e.contains("wJalrXUtnFEMI") && !e.contains("pa55word"),
                "{e}"
            );
        }
    }

    #[test]
    fn file_urls_need_an_absolute_path_and_no_host() {
        let e = err("file://data/media");
        assert!(
            e.contains("names a host (`data`)") && e.contains("three slashes"),
            "{e}"
        );
        assert!(err("file:data/media").contains("absolute path"));
        assert!(err("file:./media").contains("absolute path"));
    }

    #[test]
    fn only_object_store_variables_are_kept_and_their_values_never_shown() {
        let env: HashMap<String, String> = [
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI"),
            ("AWS_REGION", ""),
            ("GOOGLE_SERVICE_ACCOUNT", "/etc/sa.json"),
            ("SERVICE_ACCOUNT", "/etc/sa2.json"),
            ("CHASQUI_MEDIA_URL", "s3://b/p"),
            ("HOME", "/root"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let kept = ObjectStoreEnv::from_env(&env);
        assert_eq!(
            kept.names(),
            [
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "GOOGLE_SERVICE_ACCOUNT",
                "SERVICE_ACCOUNT"
            ]
        );
        let shown = format!("{kept:?}");
        assert!(shown.contains("AWS_SECRET_ACCESS_KEY"), "{shown}");
        assert!(
            !shown.contains("wJalrXUtnFEMI") && !shown.contains("AKIAEXAMPLE"),
            "{shown}"
        );
    }
}
