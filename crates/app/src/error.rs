//! One error type for the whole request path, mapped to status codes in one
//! place ([`AppError::status`]). Bad input is always a 4xx with a short
//! reason; internal details go to the log, never to the visitor.

use std::borrow::Cow;

use model::ModelError;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Malformed id, form, query or path: 400.
    #[error("{0}")]
    BadRequest(&'static str),
    /// Needs a logged-in visitor, or the login failed: 401.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// A cross-site form post: 403.
    #[error("{0}")]
    Forbidden(&'static str),
    /// No such user, photo, file or route: 404.
    #[error("{0}")]
    NotFound(&'static str),
    /// The route exists with other methods (listed in `Allow`): 405.
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
    /// The body did not arrive in time: 408.
    #[error("request body timed out")]
    Timeout,
    /// Body over [`crate::MAX_BODY_BYTES`]: 413.
    #[error("request body too large")]
    TooLarge,
    /// A comment over [`model::render::MAX_COMMENT_CHARS`] characters: 400.
    #[error("comment too long")]
    CommentTooLong,
    /// A form post that is not `application/x-www-form-urlencoded`: 415.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// The database stayed locked past its busy timeout: 503, try again.
    #[error("busy: {0}")]
    Busy(String),
    /// A bug or a broken environment (disk, database file): 500.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            AppError::BadRequest(_) | AppError::CommentTooLong => 400,
            AppError::Unauthorized(_) => 401,
            AppError::Forbidden(_) => 403,
            AppError::NotFound(_) => 404,
            AppError::MethodNotAllowed(_) => 405,
            AppError::Timeout => 408,
            AppError::TooLarge => 413,
            AppError::UnsupportedMediaType => 415,
            AppError::Internal(_) => 500,
            AppError::Busy(_) => 503,
        }
    }

    /// The reason phrase of the status line.
    pub fn reason(&self) -> &'static str {
        crate::http::reason(self.status())
    }

    /// One sentence for the visitor: the reason for 4xx, nothing internal
    /// for 5xx. Limits are stated from their constants.
    pub fn detail(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            AppError::BadRequest(s)
            | AppError::Unauthorized(s)
            | AppError::Forbidden(s)
            | AppError::NotFound(s) => s,
            AppError::MethodNotAllowed(_) => "This address does not accept that method.",
            AppError::Timeout => "The request body did not arrive in time.",
            AppError::TooLarge => {
                return Cow::Owned(format!(
                    "The request body is larger than this site accepts ({} KiB).",
                    crate::MAX_BODY_BYTES / 1024
                ));
            }
            AppError::CommentTooLong => {
                return Cow::Owned(format!(
                    "A comment can be at most {} characters.",
                    model::render::MAX_COMMENT_CHARS
                ));
            }
            AppError::UnsupportedMediaType => {
                "Forms must be sent as application/x-www-form-urlencoded."
            }
            AppError::Busy(_) => "The site is busy; please try again in a moment.",
            AppError::Internal(_) => "Something went wrong on our side; it has been logged.",
        })
    }
}

impl From<ModelError> for AppError {
    fn from(e: ModelError) -> Self {
        use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked};
        match &e {
            ModelError::Sqlite(rusqlite::Error::SqliteFailure(f, _))
                if matches!(f.code, DatabaseBusy | DatabaseLocked) =>
            {
                AppError::Busy(e.to_string())
            }
            _ => AppError::Internal(e.to_string()),
        }
    }
}

/// Shorthand for handler results.
pub type AppResult<T> = Result<T, AppError>;
