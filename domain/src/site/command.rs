//! What callers can ask of a site, and how raw input becomes a validated
//! command.

use crate::error::{ValidationError, Violations};
use crate::field_mask::FieldMask;
use crate::ids::{ProfileId, SiteId};
use crate::values::{SiteDomain, SiteName, TimeZone};

use super::{IssueReadKey, RevokeReadKey};

/// Unvalidated site fields as the edge received them; empty means "not
/// given", as in proto3.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteInput {
    /// Requested domain.
    pub domain: String,
    /// Requested IANA time zone.
    pub time_zone: String,
    /// Owning profile's id, as text.
    pub owner_profile_id: String,
    /// Requested name; empty means "use the domain".
    pub name: String,
}

/// Register a new site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterSite {
    /// Id of the new site, chosen by the caller so retries are idempotent.
    pub site_id: SiteId,
    /// Unique domain.
    pub domain: SiteDomain,
    /// Reporting time zone.
    pub time_zone: TimeZone,
    /// Owning profile. Whether it exists is checked by the command service,
    /// which can see other streams; the domain only checks the id's shape.
    pub owner_profile_id: ProfileId,
    /// Dashboard label.
    pub name: SiteName,
}

impl RegisterSite {
    /// Validates every field of `input`, reporting all violations at once.
    /// Domain, time zone and owner are required; an empty name defaults to
    /// the domain.
    pub fn new(site_id: SiteId, input: SiteInput) -> Result<Self, ValidationError> {
        let mut v = Violations::new();
        let domain = v.required("domain", &input.domain, SiteDomain::parse);
        let time_zone = v.required("time_zone", &input.time_zone, TimeZone::parse);
        let owner_profile_id = v.required("owner_profile_id", &input.owner_profile_id, |raw| {
            raw.parse::<ProfileId>().map_err(|_| "must be a profile id (UUID)".to_owned())
        });
        let name = if input.name.trim().is_empty() {
            domain.as_ref().map(SiteName::for_domain)
        } else {
            v.check("name", SiteName::parse(&input.name))
        };
        let (Some(domain), Some(time_zone), Some(owner_profile_id), Some(name)) =
            (domain, time_zone, owner_profile_id, name)
        else {
            return Err(v.into_error());
        };
        Ok(Self { site_id, domain, time_zone, owner_profile_id, name })
    }
}

/// The fields an update sets; `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteChanges {
    /// New domain.
    pub domain: Option<SiteDomain>,
    /// New time zone.
    pub time_zone: Option<TimeZone>,
    /// New name.
    pub name: Option<SiteName>,
}

/// Change some fields of a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateSite {
    /// The site to change.
    pub site_id: SiteId,
    /// What to change.
    pub changes: SiteChanges,
}

impl UpdateSite {
    /// Field-mask paths an update accepts; `"*"` stands for all of them.
    pub const UPDATABLE_FIELDS: [&'static str; 3] = ["domain", "time_zone", "name"];

    /// Validates the fields named by `mask` (AIP-134 paths), ignoring the
    /// rest of `input`. Ownership is not updatable (transfers would need the
    /// new owner's consent), so masking `owner_profile_id` is an error
    /// rather than silently ignored. A masked empty name is refused: unlike
    /// registration there is no obvious default once a name exists.
    pub fn new(site_id: SiteId, input: SiteInput, mask: &[String]) -> Result<Self, ValidationError> {
        let mut v = Violations::new();
        let mask = FieldMask::resolve(mask, &Self::UPDATABLE_FIELDS, &["owner_profile_id"], &mut v);
        let changes = SiteChanges {
            domain: mask.contains("domain").then(|| v.required("domain", &input.domain, SiteDomain::parse)).flatten(),
            time_zone: mask
                .contains("time_zone")
                .then(|| v.required("time_zone", &input.time_zone, TimeZone::parse))
                .flatten(),
            name: mask.contains("name").then(|| v.required("name", &input.name, SiteName::parse)).flatten(),
        };
        v.finish()?;
        Ok(Self { site_id, changes })
    }
}

/// Delete a site, releasing its domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteSite {
    /// The site to delete.
    pub site_id: SiteId,
}

/// Every command a site accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteCommand {
    /// See [`RegisterSite`].
    Register(RegisterSite),
    /// See [`UpdateSite`].
    Update(UpdateSite),
    /// See [`DeleteSite`].
    Delete(DeleteSite),
    /// See [`IssueReadKey`].
    IssueReadKey(IssueReadKey),
    /// See [`RevokeReadKey`].
    RevokeReadKey(RevokeReadKey),
}

impl SiteCommand {
    /// The site the command targets, which names the stream to load.
    pub fn site_id(&self) -> SiteId {
        match self {
            SiteCommand::Register(c) => c.site_id,
            SiteCommand::Update(c) => c.site_id,
            SiteCommand::Delete(c) => c.site_id,
            SiteCommand::IssueReadKey(c) => c.site_id,
            SiteCommand::RevokeReadKey(c) => c.site_id,
        }
    }
}

impl From<RegisterSite> for SiteCommand {
    fn from(command: RegisterSite) -> Self {
        SiteCommand::Register(command)
    }
}

impl From<UpdateSite> for SiteCommand {
    fn from(command: UpdateSite) -> Self {
        SiteCommand::Update(command)
    }
}

impl From<DeleteSite> for SiteCommand {
    fn from(command: DeleteSite) -> Self {
        SiteCommand::Delete(command)
    }
}

impl From<IssueReadKey> for SiteCommand {
    fn from(command: IssueReadKey) -> Self {
        SiteCommand::IssueReadKey(command)
    }
}

impl From<RevokeReadKey> for SiteCommand {
    fn from(command: RevokeReadKey) -> Self {
        SiteCommand::RevokeReadKey(command)
    }
}
