use super::*;

/// A data folder holding `files` (empty images: the reader only checks they exist) and
/// `labels.csv` with `text`.
fn folder(files: &[&str], text: &str) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    for f in files {
        std::fs::write(t.path().join(f), b"x").unwrap();
    }
    let csv = t.path().join("labels.csv");
    std::fs::write(&csv, text).unwrap();
    (t, csv)
}

fn classes(table: &TargetTable) -> Vec<Vec<&str>> {
    let names = |t: &Target| match t {
        Target::Classes(c) => c.iter().map(|&i| table.names[i].as_str()).collect(),
        Target::Values(_) => panic!("values"),
    };
    table.rows.iter().map(|r| names(&r.target)).collect()
}

fn err(root: &Path, csv: &Path, columns: &TargetColumns, task: Option<TaskKind>) -> String {
    read_targets(root, csv, columns, task).unwrap_err().to_string()
}

#[test]
fn a_cell_with_several_space_separated_labels_makes_the_task_multi_label_and_an_empty_cell_means_no_label() {
    let (t, csv) = folder(&["a.jpg", "b.jpg", "c.jpg"], "image,tags\na.jpg,haze primary\nb.jpg,primary\nc.jpg,\n");
    let table = read_targets(t.path(), &csv, &TargetColumns::default(), None).unwrap();
    assert_eq!(table.task, TaskKind::MultiLabel);
    assert_eq!(table.names, ["haze", "primary"]);
    assert_eq!(classes(&table), [vec!["haze", "primary"], vec!["primary"], vec![]]);
    assert!(table.inferred.unwrap().contains("line 2"), "the line that decided it is named");
}

#[test]
fn labels_that_recombine_across_rows_make_the_task_multi_label_though_none_stands_alone() {
    let text = "file,labels\na.png,Bag Coat\nb.png,Coat Dress\nc.png,Bag Dress\nd.png,Bag Coat Dress\n";
    let (t, csv) = folder(&["a.png", "b.png", "c.png", "d.png"], text);
    let table = read_targets(t.path(), &csv, &TargetColumns::default(), None).unwrap();
    assert_eq!(
        (table.task, table.names.clone()),
        (TaskKind::MultiLabel, vec!["Bag".into(), "Coat".into(), "Dress".into()])
    );
}

#[test]
fn class_names_with_spaces_stay_single_label_unless_a_delimiter_is_given() {
    let text = "file,label\na.png,Ankle boot\nb.png,T-shirt\nc.png,Ankle boot\n";
    let (t, csv) = folder(&["a.png", "b.png", "c.png"], text);
    let table = read_targets(t.path(), &csv, &TargetColumns::default(), None).unwrap();
    assert_eq!((table.task, table.names.clone()), (TaskKind::SingleLabel, vec!["Ankle boot".into(), "T-shirt".into()]));
    assert_eq!(table.inferred, None);
    let columns = TargetColumns { label_delim: Some(' '), ..TargetColumns::default() };
    let table = read_targets(t.path(), &csv, &columns, None).unwrap();
    assert_eq!((table.task, table.names.len()), (TaskKind::MultiLabel, 3));
}

#[test]
fn zero_one_columns_give_the_labels_and_anything_else_in_them_is_named_by_line_and_column() {
    let text = "path,cat,dog,bird\na.png,1,0,1\nb.png,0,0,0\n";
    let (t, csv) = folder(&["a.png", "b.png"], text);
    let all = TargetColumns { label_columns: Some(vec![]), ..TargetColumns::default() };
    let table = read_targets(t.path(), &csv, &all, None).unwrap();
    assert_eq!(
        (table.task, table.names.clone()),
        (TaskKind::MultiLabel, vec!["cat".into(), "dog".into(), "bird".into()])
    );
    assert_eq!(classes(&table), [vec!["cat", "bird"], vec![]]);
    let two = TargetColumns { label_columns: Some(vec!["bird".into(), "cat".into()]), ..TargetColumns::default() };
    assert_eq!(classes(&read_targets(t.path(), &csv, &two, None).unwrap()), [vec!["bird", "cat"], vec![]]);
    std::fs::write(&csv, "path,cat,dog\na.png,1,0\nb.png,yes,0\n").unwrap();
    let e = err(t.path(), &csv, &all, None);
    assert!(e.contains("labels.csv:3") && e.contains("\"cat\"") && e.contains("\"yes\" is not 0 or 1"), "{e}");
    let missing = TargetColumns { label_columns: Some(vec!["fish".into()]), ..TargetColumns::default() };
    let e = err(t.path(), &csv, &missing, None);
    assert!(e.contains("no column \"fish\"") && e.contains("path, cat, dog"), "{e}");
}

#[test]
fn named_numeric_columns_are_a_regression_and_a_word_in_one_is_named_by_line_and_column() {
    let (t, csv) = folder(&["a.png", "b.png"], "file,angle,scale\na.png,-12.5,1\nb.png,30,0.5\n");
    let columns = TargetColumns { targets: Some(vec!["angle".into(), "scale".into()]), ..TargetColumns::default() };
    let table = read_targets(t.path(), &csv, &columns, None).unwrap();
    assert_eq!((table.task, table.names.clone()), (TaskKind::Regression, vec!["angle".into(), "scale".into()]));
    assert_eq!(table.rows[0].target, Target::Values(vec![-12.5, 1.0]));
    // The second column when none is named.
    let second = read_targets(t.path(), &csv, &TargetColumns::default(), Some(TaskKind::Regression)).unwrap();
    assert_eq!(
        (second.names.clone(), second.rows[1].target.clone()),
        (vec!["angle".into()], Target::Values(vec![30.0]))
    );
    for bad in ["abc", "", "inf", "NaN"] {
        std::fs::write(&csv, format!("file,angle,scale\na.png,1,1\nb.png,{bad},1\n")).unwrap();
        let e = err(t.path(), &csv, &columns, None);
        assert!(
            e.contains("labels.csv:3") && e.contains("\"angle\"") && e.contains("not a finite number"),
            "{bad}: {e}"
        );
    }
    std::fs::write(&csv, "file,angle,scale\na.png,1\n").unwrap();
    assert!(err(t.path(), &csv, &columns, None).contains("no \"scale\" column"));
}

#[test]
fn a_count_is_a_whole_number_and_a_negative_or_fractional_one_is_refused() {
    let (t, csv) = folder(&["a.png", "b.png"], "file,apples\na.png,0\nb.png,7\n");
    let table = read_targets(t.path(), &csv, &TargetColumns::default(), Some(TaskKind::Count)).unwrap();
    assert_eq!(table.rows[1].target, Target::Values(vec![7.0]));
    for bad in ["-1", "2.5", "many"] {
        std::fs::write(&csv, format!("file,apples\na.png,1\nb.png,{bad}\n")).unwrap();
        let e = err(t.path(), &csv, &TargetColumns::default(), Some(TaskKind::Count));
        assert!(e.contains("labels.csv:3") && e.contains("is not a count"), "{bad}: {e}");
    }
}

#[test]
fn rows_naming_missing_files_are_skipped_and_columns_by_name_need_a_header() {
    let (t, csv) = folder(&["a.png"], "a.png,3\ngone.png,4\n");
    let table = read_targets(t.path(), &csv, &TargetColumns::default(), Some(TaskKind::Count)).unwrap();
    assert_eq!((table.rows.len(), table.skipped.len()), (1, 1));
    assert!(table.skipped[0].reason.contains("line 2"), "{:?}", table.skipped);
    let named = TargetColumns { targets: Some(vec!["apples".into()]), ..TargetColumns::default() };
    assert!(err(t.path(), &csv, &named, None).contains("not a header row"));
}

#[test]
fn a_single_label_row_without_a_label_is_named() {
    let (t, csv) = folder(&["a.png", "b.png"], "a.png,cat\nb.png,\n");
    let e = err(t.path(), &csv, &TargetColumns::default(), None);
    assert!(e.contains("labels.csv:2") && e.contains("label is empty"), "{e}");
}

#[test]
fn fractional_numbers_in_the_label_column_make_a_regression_and_whole_numbers_stay_classes() {
    let (t, csv) = folder(&["a.png", "b.png", "c.png"], "file,angle\na.png,62.5\nb.png,-3\nc.png,10\n");
    let table = read_targets(t.path(), &csv, &TargetColumns::default(), None).unwrap();
    assert_eq!((table.task, table.names.clone()), (TaskKind::Regression, vec!["angle".to_string()]));
    assert!(table.inferred.unwrap().contains("line 2"));
    assert_eq!(table.rows[1].target, Target::Values(vec![-3.0]));
    let rows: String =
        (0..12).map(|i| format!("{}.png,{}\n", ["a", "b", "c"][i % 3], if i == 5 { "abc" } else { "1.5" })).collect();
    std::fs::write(&csv, format!("file,angle\n{rows}")).unwrap();
    let typo = read_targets(t.path(), &csv, &TargetColumns::default(), None).unwrap_err().to_string();
    assert!(
        typo.contains("labels.csv:7") && typo.contains("\"abc\" is not a finite number"),
        "a typo among numbers: {typo}"
    );
    std::fs::write(&csv, "file,digit\na.png,7\nb.png,3\nc.png,7\n").unwrap();
    let table = read_targets(t.path(), &csv, &TargetColumns::default(), None).unwrap();
    assert_eq!(table.task, TaskKind::SingleLabel);
}
