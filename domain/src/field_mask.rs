//! Field masks (AIP-134) that select what a partial update touches.

use crate::error::Violations;

/// The violation field name for mask problems.
const FIELD: &str = "update_mask";

/// The resolved set of fields an update applies.
#[derive(Debug, Default)]
pub(crate) struct FieldMask {
    fields: Vec<&'static str>,
}

impl FieldMask {
    /// Resolves `paths` against the `updatable` fields, reporting every bad
    /// path. `"*"` means all updatable fields. Fields in `immutable` exist
    /// on the resource but get a clearer message than "unknown".
    ///
    /// The lowerCamelCase spelling is accepted too, because the proto3 JSON
    /// mapping of `FieldMask` uses it (`displayName`).
    pub(crate) fn resolve(
        paths: &[String],
        updatable: &[&'static str],
        immutable: &[&'static str],
        violations: &mut Violations,
    ) -> Self {
        let mut mask = Self::default();
        if paths.is_empty() {
            violations.add(FIELD, "must name at least one field");
        }
        for path in paths {
            let snake = to_snake_case(path);
            if path == "*" {
                updatable.iter().for_each(|field| mask.insert(field));
            } else if let Some(field) = updatable.iter().find(|f| **f == snake) {
                mask.insert(field);
            } else if immutable.contains(&snake.as_str()) {
                violations.add(FIELD, format!("{snake} cannot be changed"));
            } else {
                violations.add(FIELD, format!("unknown field {path:?}; updatable fields are {}", updatable.join(", ")));
            }
        }
        mask
    }

    fn insert(&mut self, field: &'static str) {
        if !self.fields.contains(&field) {
            self.fields.push(field);
        }
    }

    /// Whether the update should validate and apply `field`.
    pub(crate) fn contains(&self, field: &str) -> bool {
        self.fields.contains(&field)
    }
}

fn to_snake_case(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 4);
    for c in path.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[&str] = &["name", "time_zone"];

    fn resolve(paths: &[&str]) -> (FieldMask, Vec<String>) {
        let mut v = Violations::new();
        let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
        let mask = FieldMask::resolve(&paths, FIELDS, &["owner_id"], &mut v);
        let found = v.into_error().violations.into_iter().map(|v| v.description).collect();
        (mask, found)
    }

    #[test]
    fn star_selects_everything() {
        let (mask, found) = resolve(&["*"]);
        assert!(found.is_empty());
        assert!(mask.contains("name") && mask.contains("time_zone"));
    }

    #[test]
    fn camel_case_is_accepted() {
        let (mask, found) = resolve(&["timeZone"]);
        assert!(found.is_empty());
        assert!(mask.contains("time_zone") && !mask.contains("name"));
    }

    #[test]
    fn every_bad_path_is_reported() {
        let (_, found) = resolve(&["nope", "ownerId", "name"]);
        assert_eq!(
            found,
            ["unknown field \"nope\"; updatable fields are name, time_zone", "owner_id cannot be changed",]
        );
    }

    #[test]
    fn empty_mask_is_refused() {
        let (_, found) = resolve(&[]);
        assert_eq!(found, ["must name at least one field"]);
    }
}
