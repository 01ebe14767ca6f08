//! Unit tests of scopes: parsing, the wire and display forms, and what a scope may see.

use super::{Scope, ScopeError, WHOLE_CAMPAIGN, WHOLE_CAMPAIGN_NAME};
use crate::units::{UnitTree, parse_unit_file};

const REGIONS: &str = "code\tparent\tname\tkind\n\
110000\t\t北京市\tprovince\n110101\t110000\t东城区\tcounty\n\
130000\t\t河北省\tprovince\n130100\t130000\t石家庄市\tcity\n130102\t130100\t长安区\tcounty\n";

fn tree() -> UnitTree {
    let regions = parse_unit_file(REGIONS).expect("valid regions");
    UnitTree::build(&[&regions]).expect("a tree")
}

fn id(tree: &UnitTree, ix: Option<crate::units::UnitIx>) -> Option<&str> {
    ix.map(|ix| tree.get(ix).id.as_str())
}

#[test]
fn parse_reads_the_whole_campaign_and_unit_ids_and_refuses_empty_text() {
    for (text, expected, why) in [
        ("*", Ok(Scope::WholeCampaign), "the whole campaign"),
        ("130102", Ok(Scope::unit("130102")), "a unit id"),
        (
            "**",
            Ok(Scope::unit("**")),
            "only a lone star is the campaign",
        ),
        (" * ", Ok(Scope::unit(" * ")), "text is taken as given"),
        ("", Err(ScopeError::Empty), "empty text"),
    ] {
        assert_eq!(Scope::parse(text), expected, "{why}");
        assert_eq!(text.parse::<Scope>(), expected, "FromStr agrees: {why}");
        assert_eq!(
            Scope::try_from(text.to_owned()),
            expected,
            "TryFrom agrees: {why}"
        );
    }
}

#[test]
fn the_wire_form_round_trips_through_parse_and_json() {
    for scope in [Scope::WholeCampaign, Scope::unit("130102")] {
        assert_eq!(Scope::parse(scope.as_str()), Ok(scope.clone()));
        assert_eq!(scope.to_string(), scope.as_str());
        let json = serde_json::to_string(&scope).expect("serializes");
        assert_eq!(json, format!("\"{}\"", scope.as_str()));
        assert_eq!(
            serde_json::from_str::<Scope>(&json).expect("deserializes"),
            scope
        );
    }
    assert_eq!(Scope::WholeCampaign.as_str(), WHOLE_CAMPAIGN);
    assert_eq!(Scope::WholeCampaign.unit_id(), None);
    assert_eq!(Scope::unit("110101").unit_id(), Some("110101"));
    assert!(
        serde_json::from_str::<Scope>("\"\"").is_err(),
        "empty text is no scope"
    );
}

#[test]
fn the_display_name_is_the_campaigns_or_the_units() {
    let tree = tree();

    assert_eq!(Scope::WholeCampaign.name(&tree), WHOLE_CAMPAIGN_NAME);
    assert_eq!(Scope::WholeCampaign.name(&tree), "全部单位");
    assert_eq!(Scope::unit("130102").name(&tree), "长安区");
    assert_eq!(
        Scope::unit("999999").name(&tree),
        "",
        "a unit the tree lacks"
    );
}

/// What a check answers, with the unit named by its id.
type Checked<'t> = Result<Option<&'t str>, ScopeError>;

#[test]
fn a_scope_sees_its_own_subtree_and_nothing_else() {
    let tree = tree();
    let hebei = Scope::unit("130000");
    let cases: [(&Scope, Scope, Checked<'_>, &str); 8] = [
        (
            &Scope::WholeCampaign,
            Scope::WholeCampaign,
            Ok(None),
            "the campaign sees itself",
        ),
        (
            &Scope::WholeCampaign,
            Scope::unit("110101"),
            Ok(Some("110101")),
            "and any unit",
        ),
        (
            &hebei,
            Scope::unit("130000"),
            Ok(Some("130000")),
            "a unit sees itself",
        ),
        (
            &hebei,
            Scope::unit("130102"),
            Ok(Some("130102")),
            "and its descendants",
        ),
        (
            &hebei,
            Scope::unit("110101"),
            Err(ScopeError::OutOfScope("110101".to_owned())),
            "not a neighbour's unit",
        ),
        (
            &hebei,
            Scope::WholeCampaign,
            Err(ScopeError::OutOfScope("*".to_owned())),
            "nor the whole campaign",
        ),
        (
            &hebei,
            Scope::unit("999999"),
            Err(ScopeError::UnknownUnit("999999".to_owned())),
            "an unknown unit is unknown, not outside",
        ),
        (
            &Scope::WholeCampaign,
            Scope::unit("999999"),
            Err(ScopeError::UnknownUnit("999999".to_owned())),
            "whoever asks",
        ),
    ];
    for (scope, wanted, expected, why) in cases {
        let checked = scope.check(&tree, &wanted);
        assert_eq!(checked.map(|ix| id(&tree, ix)), expected, "{why}");
    }
}

#[test]
fn a_scope_whose_unit_left_the_tree_sees_nothing() {
    let tree = tree();

    let checked = Scope::unit("999999").check(&tree, &Scope::unit("130102"));

    assert_eq!(checked, Err(ScopeError::OutOfScope("130102".to_owned())));
}

#[test]
fn a_scope_changes_the_units_below_its_own_but_not_its_own() {
    let tree = tree();
    let city = Scope::unit("130100");
    let below = |scope: &Scope, wanted: Scope| {
        scope
            .check_below(&tree, &wanted)
            .map(|ix| tree.get(ix).id.clone())
    };

    assert_eq!(below(&city, Scope::unit("130102")), Ok("130102".to_owned()));
    assert_eq!(
        below(&city, Scope::unit("130100")),
        Err(ScopeError::OwnUnit("130100".to_owned())),
        "the level above sets the own unit's figures"
    );
    assert_eq!(
        below(&city, Scope::unit("130000")),
        Err(ScopeError::OutOfScope("130000".to_owned())),
        "nor the level above"
    );
    assert_eq!(
        below(&Scope::WholeCampaign, Scope::unit("130000")),
        Ok("130000".to_owned()),
        "the whole campaign changes any unit"
    );
    assert_eq!(
        below(&Scope::WholeCampaign, Scope::WholeCampaign),
        Err(ScopeError::UnknownUnit("*".to_owned())),
        "the whole campaign is no unit to change"
    );
    assert_eq!(
        below(&city, Scope::WholeCampaign),
        Err(ScopeError::OutOfScope("*".to_owned())),
        "and outside a unit's scope"
    );
}

#[test]
fn the_whole_campaign_is_spelled_as_the_record_and_the_scripts_spell_it() {
    // The organizers table and the Lua scripts' totals and board keys hold this spelling: it is
    // a data format, so changing it needs a migration of both, not just this constant.
    assert_eq!(WHOLE_CAMPAIGN, "*");
    assert_eq!(Scope::parse("*"), Ok(Scope::WholeCampaign));
}
