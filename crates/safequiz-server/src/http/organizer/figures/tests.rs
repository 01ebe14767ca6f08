//! Ordering of unit figures.

use safequiz_sql::reports::UnitFigure;

use super::{FigureSort, sort_children};

fn figure(
    unit_id: &str,
    participants: i64,
    attempts: i64,
    points: i64,
    headcount: Option<i64>,
) -> UnitFigure {
    UnitFigure {
        unit_id: unit_id.to_owned(),
        name: String::new(),
        kind: "county".to_owned(),
        headcount,
        participants,
        attempts,
        points,
        full_marks: 0,
    }
}

fn order(sort: FigureSort) -> Vec<String> {
    let mut children = vec![
        figure("01", 2, 2, 6, None),
        figure("02", 3, 4, 8, Some(100)),
        figure("03", 1, 1, 5, Some(2)),
        figure("04", 0, 0, 0, Some(10)),
    ];
    sort_children(&mut children, sort);
    children.into_iter().map(|c| c.unit_id).collect()
}

#[test]
fn children_are_ranked_by_the_chosen_figure_larger_first() {
    let cases = [
        (
            FigureSort::Unit,
            ["01", "02", "03", "04"],
            "unit file order",
        ),
        (FigureSort::Points, ["02", "01", "03", "04"], "points"),
        (
            FigureSort::Participants,
            ["02", "01", "03", "04"],
            "participants",
        ),
        (FigureSort::Attempts, ["02", "01", "03", "04"], "attempts"),
        (
            FigureSort::AvgScore,
            ["03", "01", "02", "04"],
            "5 > 3 > 2 points per attempt, none last",
        ),
        (
            FigureSort::ParticipationRate,
            ["03", "02", "04", "01"],
            "50% > 3% > 0%, no headcount last",
        ),
    ];
    for (sort, expected, why) in cases {
        assert_eq!(order(sort), expected, "{why}");
    }
}
