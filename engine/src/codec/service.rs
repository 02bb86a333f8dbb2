//! The service tree `WVCSPFeat` (CSP-REFERENCE §2.7) and the static tree of each version.
//!
//! The tree has three levels: feature (`PresenceFeat`) → function group (`ContListFunc`) or
//! whole-feature marker (`MP`) → function code (`GCLI`). It is kept as ordered name lists so
//! that any vendor or newer-version code survives a round trip.

use super::Version;
use super::xml::{Child, DecodeError, XmlIn, XmlOut, XmlValue};

/// `WVCSPFeat (FundamentalFeat?, PresenceFeat?, IMFeat?, GroupFeat?)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WvCspFeat {
    /// Features in document order.
    pub features: Vec<Feature>,
}

/// One feature element, e.g. `PresenceFeat`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Feature {
    /// Element name (`FundamentalFeat`, `PresenceFeat`, `IMFeat`, `GroupFeat`, …).
    pub name: String,
    /// Its children in order.
    pub items: Vec<FeatureItem>,
}

/// A child of a feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeatureItem {
    /// A function group such as `ContListFunc` with its codes.
    Function(Function),
    /// A whole-feature marker (`MF`, `MP`, `MM`, `MG`) or another empty element.
    Marker(String),
}

/// A function group, e.g. `ContListFunc (GCLI?, CCLI?, DCLI?, MCLS?)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Function {
    /// Element name.
    pub name: String,
    /// Function codes in order.
    pub codes: Vec<String>,
}

/// `Functions` / `AllFunctions`: `(WVCSPFeat)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Functions {
    /// The tree (absent when the element was empty).
    pub wv_csp_feat: Option<WvCspFeat>,
}

impl XmlValue for Functions {
    fn decode(
        r: &mut XmlIn<'_>,
        name: &str,
        child: &Child<'_>,
    ) -> Result<Option<Self>, DecodeError> {
        let mut out = Functions::default();
        if !child.empty {
            while let Some(c) = r.next_child(name)? {
                if c.local() == "WVCSPFeat" && out.wv_csp_feat.is_none() {
                    out.wv_csp_feat = Some(decode_feat(r, &c)?);
                } else {
                    r.skip(&c)?;
                }
            }
        }
        Ok(Some(out))
    }

    fn encode(&self, name: &str, w: &mut XmlOut) {
        w.open(name);
        if let Some(feat) = &self.wv_csp_feat {
            encode_feat(feat, w);
        }
        w.close(name);
    }
}

fn decode_feat(r: &mut XmlIn<'_>, c: &Child<'_>) -> Result<WvCspFeat, DecodeError> {
    let mut feat = WvCspFeat::default();
    if c.empty {
        return Ok(feat);
    }
    while let Some(f) = r.next_child("WVCSPFeat")? {
        let mut feature = Feature {
            name: f.writable_local()?.to_owned(),
            items: Vec::new(),
        };
        if !f.empty {
            while let Some(item) = r.next_child(&feature.name)? {
                let name = item.writable_local()?.to_owned();
                if name.ends_with("Func") {
                    let mut function = Function {
                        name,
                        codes: Vec::new(),
                    };
                    if !item.empty {
                        while let Some(code) = r.next_child(&function.name)? {
                            function.codes.push(code.writable_local()?.to_owned());
                            r.skip(&code)?;
                        }
                    }
                    feature.items.push(FeatureItem::Function(function));
                } else {
                    r.skip(&item)?;
                    feature.items.push(FeatureItem::Marker(name));
                }
            }
        }
        feat.features.push(feature);
    }
    Ok(feat)
}

fn encode_feat(feat: &WvCspFeat, w: &mut XmlOut) {
    w.open("WVCSPFeat");
    for f in &feat.features {
        w.open(&f.name);
        for item in &f.items {
            match item {
                FeatureItem::Marker(m) => {
                    w.open(m);
                    w.close(m);
                }
                FeatureItem::Function(func) => {
                    w.open(&func.name);
                    for code in &func.codes {
                        w.open(code);
                        w.close(code);
                    }
                    w.close(&func.name);
                }
            }
        }
        w.close(&f.name);
    }
    w.close("WVCSPFeat");
}

/// One row of a version's service tree: feature, its whole-feature marker, function, codes.
pub type TreeRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
);

const TREE_11: &[TreeRow] = &[
    ("FundamentalFeat", "MF", "ServiceFunc", &["GETSPI"]),
    ("FundamentalFeat", "MF", "SearchFunc", &["SRCH", "STSRC"]),
    ("FundamentalFeat", "MF", "InviteFunc", &["INVIT", "CAINV"]),
    (
        "PresenceFeat",
        "MP",
        "ContListFunc",
        &["GCLI", "CCLI", "DCLI", "MCLS"],
    ),
    (
        "PresenceFeat",
        "MP",
        "PresenceAuthFunc",
        &["GETWL", "REACT", "CAAUT"],
    ),
    (
        "PresenceFeat",
        "MP",
        "PresenceDeliverFunc",
        &["GETPR", "UPDPR"],
    ),
    (
        "PresenceFeat",
        "MP",
        "AttListFunc",
        &["CALI", "DALI", "GALS"],
    ),
    ("IMFeat", "MM", "IMSendFunc", &["MDELIV", "FWMSG"]),
    (
        "IMFeat",
        "MM",
        "IMReceiveFunc",
        &["SETD", "GETLM", "GETM", "REJCM", "NOTIF", "NEWM"],
    ),
    ("IMFeat", "MM", "IMAuthFunc", &["GLBLU", "BLENT"]),
    (
        "GroupFeat",
        "MG",
        "GroupMgmtFunc",
        &["CREAG", "DELGR", "GETGP", "SETGP"],
    ),
    ("GroupFeat", "MG", "GroupUseFunc", &["SUBGCN", "GRCHN"]),
    (
        "GroupFeat",
        "MG",
        "GroupAuthFunc",
        &["GETGM", "ADDGM", "RMVGM", "MBRAC", "REJEC"],
    ),
];

const TREE_12: &[TreeRow] = &[
    ("FundamentalFeat", "MF", "ServiceFunc", &["GETSPI"]),
    ("FundamentalFeat", "MF", "SearchFunc", &["SRCH", "STSRC"]),
    ("FundamentalFeat", "MF", "InviteFunc", &["INVIT", "CAINV"]),
    ("FundamentalFeat", "MF", "VerifyIDFunc", &["VRID"]),
    (
        "PresenceFeat",
        "MP",
        "ContListFunc",
        &["GCLI", "CCLI", "DCLI", "MCLS"],
    ),
    (
        "PresenceFeat",
        "MP",
        "PresenceAuthFunc",
        &["GETWL", "REACT", "CAAUT", "GETAUT"],
    ),
    (
        "PresenceFeat",
        "MP",
        "PresenceDeliverFunc",
        &["GETPR", "UPDPR"],
    ),
    (
        "PresenceFeat",
        "MP",
        "AttListFunc",
        &["CALI", "DALI", "GALS"],
    ),
    ("IMFeat", "MM", "IMSendFunc", &["MDELIV", "FWMSG"]),
    (
        "IMFeat",
        "MM",
        "IMReceiveFunc",
        &["SETD", "GETLM", "GETM", "REJCM", "NOTIF", "NEWM"],
    ),
    ("IMFeat", "MM", "IMAuthFunc", &["GLBLU", "BLENT"]),
    (
        "GroupFeat",
        "MG",
        "GroupMgmtFunc",
        &["CREAG", "DELGR", "GETGP", "SETGP"],
    ),
    ("GroupFeat", "MG", "GroupUseFunc", &["SUBGCN", "GRCHN"]),
    (
        "GroupFeat",
        "MG",
        "GroupAuthFunc",
        &["GETGM", "ADDGM", "RMVGM", "MBRAC", "REJEC", "GETJU"],
    ),
];

const TREE_13: &[TreeRow] = &[
    (
        "FundamentalFeat",
        "MF",
        "ServiceFunc",
        &["GETSPI", "GETMAP", "SGMNT"],
    ),
    (
        "FundamentalFeat",
        "MF",
        "SearchFunc",
        &["SRCH", "ADVSR", "STSRC"],
    ),
    ("FundamentalFeat", "MF", "InviteFunc", &["INVIT", "CAINV"]),
    ("FundamentalFeat", "MF", "VerifyIDFunc", &["VRID"]),
    (
        "PresenceFeat",
        "MP",
        "ContListFunc",
        &["GCLI", "CCLI", "DCLI", "MCLS"],
    ),
    ("PresenceFeat", "MP", "PresenceAuthFunc", &["GETWL"]),
    (
        "PresenceFeat",
        "MP",
        "PresenceDeliverFunc",
        &["GETPR", "UPDPR"],
    ),
    ("IMFeat", "MM", "IMSendFunc", &["MDELIV", "FWMSG"]),
    (
        "IMFeat",
        "MM",
        "IMReceiveFunc",
        &[
            "SETD", "GETLM", "GETM", "REJCM", "NOTIF", "NEWM", "OFFNOTIF",
        ],
    ),
    ("IMFeat", "MM", "IMAuthFunc", &["GLBLU", "BLENT"]),
    (
        "GroupFeat",
        "MG",
        "GroupMgmtFunc",
        &["CREAG", "DELGR", "GETGP", "SETGP"],
    ),
    (
        "GroupFeat",
        "MG",
        "GroupUseFunc",
        &["SUBGCN", "GRCHN", "EXCON"],
    ),
    (
        "GroupFeat",
        "MG",
        "GroupAuthFunc",
        &["GETGM", "ADDGM", "RMVGM", "MBRAC", "REJEC", "GETJU"],
    ),
];

/// The full service tree of `version` (CSP-REFERENCE §2.7; 1.2 and 1.3 as Baraza fills them).
pub fn tree(version: Version) -> &'static [TreeRow] {
    match version {
        Version::V1_1 => TREE_11,
        Version::V1_2 => TREE_12,
        Version::V1_3 => TREE_13,
    }
}

/// Every function code of `version` that a request names, expanding empty features, markers
/// (`MP`) and empty function groups to all their codes (Baraza's reading, §2.7).
pub fn requested_codes(version: Version, feat: &WvCspFeat) -> Vec<&'static str> {
    let rows = tree(version);
    let mut out: Vec<&'static str> = Vec::new();
    let mut push = |c: &'static str| {
        if !out.contains(&c) {
            out.push(c);
        }
    };
    for f in &feat.features {
        let feature_rows = rows.iter().filter(|r| r.0 == f.name);
        if f.items.is_empty() {
            feature_rows.flat_map(|r| r.3.iter()).for_each(|c| push(c));
            continue;
        }
        for item in &f.items {
            match item {
                FeatureItem::Marker(m) => {
                    rows.iter()
                        .filter(|r| r.0 == f.name && r.1 == m)
                        .flat_map(|r| r.3.iter())
                        .for_each(|c| push(c));
                }
                FeatureItem::Function(func) => {
                    for row in rows.iter().filter(|r| r.0 == f.name && r.2 == func.name) {
                        if func.codes.is_empty() {
                            row.3.iter().for_each(|c| push(c));
                        } else {
                            for code in &func.codes {
                                if let Some(c) = row.3.iter().find(|c| **c == code.as_str()) {
                                    push(c);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// Builds the tree of `version` holding exactly `codes` (in tree order; empty groups dropped).
pub fn tree_of(version: Version, codes: &[&str]) -> WvCspFeat {
    let mut feat = WvCspFeat::default();
    for (feature, _marker, func, all) in tree(version) {
        let present: Vec<String> = all
            .iter()
            .filter(|c| codes.contains(c))
            .map(|c| (*c).to_owned())
            .collect();
        if present.is_empty() {
            continue;
        }
        let function = FeatureItem::Function(Function {
            name: (*func).to_owned(),
            codes: present,
        });
        match feat.features.iter_mut().find(|f| f.name == *feature) {
            Some(f) => f.items.push(function),
            None => feat.features.push(Feature {
                name: (*feature).to_owned(),
                items: vec![function],
            }),
        }
    }
    feat
}

/// The function codes named in a tree as written (no expansion).
pub fn listed_codes(feat: &WvCspFeat) -> Vec<String> {
    let mut out = Vec::new();
    for f in &feat.features {
        for item in &f.items {
            if let FeatureItem::Function(func) = item {
                out.extend(func.codes.iter().cloned());
            }
        }
    }
    out
}
