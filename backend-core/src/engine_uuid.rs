//! Deterministic engine identities.
//!
//! An engine's UUID depends only on its table name and engine id, so a resumed
//! import finds the engines (and sorted files) of the run that crashed. The
//! derivation is TiDB Lightning's, byte for byte, so tags and UUIDs in logs and
//! checkpoints mean the same thing in both tools.

use uuid::Uuid;

/// The namespace TiDB Lightning derives engine UUIDs in.
pub const ENGINE_NAMESPACE: Uuid = Uuid::from_bytes([
    0xd6, 0x8d, 0x6a, 0xbe, 0xc5, 0x9e, 0x45, 0xd6, 0xad, 0xe8, 0xe2, 0xb0, 0xce, 0xb7, 0xbe, 0xdf,
]);

/// The engine id of a table's index engine; data engines count up from 0.
pub const INDEX_ENGINE_ID: i32 = -1;

/// Returns the engine's tag `` `db`.`tbl`:ID `` and its UUID (v5 over the tag in
/// [`ENGINE_NAMESPACE`]).
///
/// `table_name` must already be the quoted, unique name of the table
/// (see [`crate::model::unique_table_name`]).
pub fn make_uuid(table_name: &str, engine_id: i32) -> (String, Uuid) {
    let tag = format!("{table_name}:{engine_id}");
    let uuid = Uuid::new_v5(&ENGINE_NAMESPACE, tag.as_bytes());
    (tag, uuid)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors computed by TiDB Lightning's `backend.MakeUUID`.
    #[test]
    fn matches_lightning_for_data_and_index_engines() {
        let (tag, uuid) = make_uuid("`test`.`t`", 0);
        assert_eq!(tag, "`test`.`t`:0");
        assert_eq!(uuid.to_string(), "c32475d3-88af-5442-b950-a0e82e40d337");
        let (tag, uuid) = make_uuid("`test`.`t`", INDEX_ENGINE_ID);
        assert_eq!(tag, "`test`.`t`:-1");
        assert_eq!(uuid.to_string(), "fbb6f190-1352-5ed4-a72f-74a5d7843162");
    }

    #[test]
    fn namespace_is_lightnings() {
        assert_eq!(
            ENGINE_NAMESPACE.to_string(),
            "d68d6abe-c59e-45d6-ade8-e2b0ceb7bedf"
        );
    }
}
