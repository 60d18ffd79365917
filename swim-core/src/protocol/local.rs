//! This node's own record at run time: its tags (memberlist `Meta`, Serf's
//! tag encoding, changed with a new incarnation like memberlist's
//! `UpdateNode`) and its keyring (memberlist's `keyring.go` rotation).

use super::Swim;
use crate::config::META_MAX_SIZE;
use crate::wire::crypto::Keyring;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use rand_core::RngCore;

/// Why new tags were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TagsError {
    /// The encoded tags are longer than 512 bytes (memberlist's limit).
    TooLarge(usize),
    /// This node is leaving: announcing new tags would undo the leave.
    Leaving,
    /// The node was shut down (returned by the drivers' `Cluster`).
    Shutdown,
}

impl fmt::Display for TagsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagsError::TooLarge(n) => {
                write!(f, "tags encode to {n} bytes; memberlist allows at most {META_MAX_SIZE}")
            }
            TagsError::Leaving => f.write_str("this node is leaving; its tags can no longer change"),
            TagsError::Shutdown => f.write_str("the cluster was shut down"),
        }
    }
}

impl core::error::Error for TagsError {}

/// Why a keyring operation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyringError {
    /// Encryption is not enabled on this node: there is no keyring.
    Disabled,
    /// The keyring refused the operation.
    Key(crate::wire::crypto::KeyError),
    /// The node was shut down (returned by the drivers' `Cluster`).
    Shutdown,
}

impl fmt::Display for KeyringError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyringError::Disabled => {
                f.write_str("encryption is not enabled on this node, so it has no keyring")
            }
            KeyringError::Key(e) => write!(f, "keyring: {e}"),
            KeyringError::Shutdown => f.write_str("the cluster was shut down"),
        }
    }
}

impl core::error::Error for KeyringError {}

impl<R: RngCore> Swim<R> {
    /// Replaces this node's tags (Serf-encoded metadata, at most 512 bytes):
    /// raises the incarnation and gossips the change; members see `Update`.
    pub fn set_tags(&mut self, tags: BTreeMap<String, String>) -> Result<(), TagsError> {
        if self.leave.is_some() {
            return Err(TagsError::Leaving);
        }
        let mut meta = Vec::new();
        crate::wire::serf::encode_tags(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())), &mut meta);
        if meta.len() > META_MAX_SIZE {
            return Err(TagsError::TooLarge(meta.len()));
        }
        self.cfg.tags = tags;
        self.meta = Arc::from(meta);
        self.incarnation = self.incarnation.saturating_add(1);
        self.queue_alive_self();
        Ok(())
    }

    /// The keys in use, primary first (`None` without encryption).
    pub fn keyring(&self) -> Option<&Keyring> {
        self.keyring.as_ref()
    }

    /// Adds a key that incoming packets may be encrypted with. Rotate a
    /// cluster's key by installing the new key on every node, then making it
    /// primary everywhere ([`use_key`](Self::use_key)), then removing the old one.
    pub fn install_key(&mut self, key: &[u8]) -> Result<(), KeyringError> {
        self.keyring.as_mut().ok_or(KeyringError::Disabled)?.add_key(key).map_err(KeyringError::Key)
    }

    /// Makes an installed key the one outgoing packets are encrypted with.
    pub fn use_key(&mut self, key: &[u8]) -> Result<(), KeyringError> {
        self.keyring.as_mut().ok_or(KeyringError::Disabled)?.use_key(key).map_err(KeyringError::Key)
    }

    /// Removes a key that is no longer primary.
    pub fn remove_key(&mut self, key: &[u8]) -> Result<(), KeyringError> {
        self.keyring.as_mut().ok_or(KeyringError::Disabled)?.remove_key(key).map_err(KeyringError::Key)
    }
}
