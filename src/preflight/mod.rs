pub mod ci;
pub mod version;
