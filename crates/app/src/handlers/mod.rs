//! One small module per endpoint.

pub mod comment;
pub mod health;
pub mod home;
pub mod login;
pub mod photo;
pub mod static_photo;
pub mod user;
