use super::*;

fn classes() -> Vec<String> {
    vec!["cat".into(), "dog".into()]
}

/// A class-folder dataset `pets/` with `files` (each holding its own path), and its root.
fn pets(files: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("pets");
    for f in files {
        std::fs::create_dir_all(root.join(f).parent().unwrap()).unwrap();
        std::fs::write(root.join(f), f).unwrap();
    }
    let root = root.canonicalize().unwrap();
    (t, root)
}

fn folders(root: &Path) -> LabelStore {
    LabelStore::ClassFolders { root: root.to_path_buf() }
}

fn write_csv(t: &Path, rows: &[(&str, &str)]) -> PathBuf {
    let csv = t.join("clean.csv");
    let mut w = csv::Writer::from_path(&csv).unwrap();
    w.write_record(["file", "label", "suggested", "score", "issue", "other", "action"]).unwrap();
    for (file, action) in rows {
        w.write_record([file, "x", "y", "0.9", "label_error", "", action]).unwrap();
    }
    w.flush().unwrap();
    csv
}

#[test]
fn class_folders_move_relabelled_and_deleted_files_and_undo_puts_them_back() {
    let (t, root) = pets(&["cat/a.png", "cat/b.png", "dog/c.png", "dog/d.png"]);
    let p = |f: &str| root.join(f).display().to_string();
    let (a, c, d) = (p("cat/a.png"), p("dog/c.png"), p("dog/d.png"));
    let csv = write_csv(t.path(), &[(&a, "relabel:dog"), (&c, "delete"), (&d, "keep")]);
    let done = apply_to(&csv, &folders(&root), &Vocabulary::classes(classes()), t.path()).unwrap();
    assert_eq!(done, Applied { relabelled: 1, deleted: 1, kept: 1 });
    assert_eq!(std::fs::read_to_string(root.join("dog/a.png")).unwrap(), "cat/a.png");
    assert!(!root.join("cat/a.png").exists() && !root.join("dog/c.png").exists());
    assert!(root.join(".imgclass-trash/dog/c.png").is_file(), "moved to the trash, not deleted");
    assert_eq!(undo(&root).unwrap(), Undone { reverted: 2, ..Undone::default() });
    for f in ["cat/a.png", "dog/c.png"] {
        assert_eq!(std::fs::read_to_string(root.join(f)).unwrap(), f);
    }
    assert_eq!(undo(&root).unwrap(), Undone::default(), "nothing left to undo");
}

#[test]
fn a_bad_action_or_class_changes_nothing_and_names_the_line() {
    let (t, root) = pets(&["cat/a.png"]);
    let file = root.join("cat/a.png").display().to_string();
    let csv = write_csv(t.path(), &[(&file, "relabel:horse")]);
    let e = apply_to(&csv, &folders(&root), &Vocabulary::classes(classes()), t.path()).unwrap_err().to_string();
    assert!(e.contains("clean.csv:2") && e.contains("cat, dog"), "{e}");
    let csv = write_csv(t.path(), &[(&file, "burn")]);
    let e = apply_to(&csv, &folders(&root), &Vocabulary::classes(classes()), t.path()).unwrap_err().to_string();
    assert!(e.contains("keep, relabel:CLASS or delete"), "{e}");
    assert!(root.join("cat/a.png").is_file());
}

#[test]
fn a_row_outside_the_data_folder_refuses_the_whole_apply() {
    let (t, root) = pets(&["cat/a.png", "dog/b.png"]);
    std::fs::write(t.path().join("precious.txt"), "mine").unwrap();
    let a = root.join("cat/a.png").display().to_string();
    for outside in ["precious.txt", "pets/cat/../../precious.txt"] {
        let csv = write_csv(t.path(), &[(&a, "delete"), (outside, "delete")]);
        let e = apply_to(&csv, &folders(&root), &Vocabulary::classes(classes()), t.path()).unwrap_err().to_string();
        assert!(e.contains("clean.csv:3") && e.contains("outside the data folder"), "{e}");
        assert!(root.join("cat/a.png").is_file() && t.path().join("precious.txt").is_file(), "nothing moved");
    }
    assert!(!root.join(TRASH).exists());
}

#[test]
fn a_class_from_a_tampered_sidecar_cannot_move_files_out_of_the_data_folder() {
    let (t, root) = pets(&["cat/a.png"]);
    let csv = write_csv(t.path(), &[("pets/cat/a.png", "relabel:../../escaped")]);
    let tampered = vec!["cat".to_string(), "../../escaped".into()];
    let e = apply_to(&csv, &folders(&root), &Vocabulary::classes(tampered), t.path()).unwrap_err().to_string();
    assert!(e.contains("not a folder name"), "{e}");
    assert!(root.join("cat/a.png").is_file() && !t.path().join("escaped").exists());
}

#[test]
fn a_file_named_twice_refuses_the_apply_before_any_move() {
    let (t, root) = pets(&["cat/a.png", "cat/b.png"]);
    let csv = write_csv(
        t.path(),
        &[("pets/cat/b.png", "delete"), ("pets/cat/a.png", "delete"), ("pets/dog/../cat/a.png", "relabel:dog")],
    );
    std::fs::create_dir_all(root.join("dog")).unwrap();
    let e = apply_to(&csv, &folders(&root), &Vocabulary::classes(classes()), t.path()).unwrap_err().to_string();
    assert!(e.contains("clean.csv:4") && e.contains("line 3"), "{e}");
    assert!(root.join("cat/a.png").is_file() && root.join("cat/b.png").is_file());
}

#[test]
fn an_apply_killed_after_its_journal_line_is_undone_from_its_journal() {
    let (_t, root) = pets(&["cat/a.png", "cat/b.png", "cat/c.png"]);
    // What a kill -9 leaves: two files moved, the third's line written but not moved, and a
    // fourth line cut short.
    let mut j = Journal::open(&root).unwrap().begin(Path::new("/x/clean.csv")).unwrap();
    for f in ["a", "b", "c"] {
        let (from, to) = (root.join(format!("cat/{f}.png")), root.join(format!("dog/{f}.png")));
        j.write(&Entry::Move { from: from.clone(), to: to.clone() }).unwrap();
        if f != "c" {
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::rename(from, to).unwrap();
        }
    }
    drop(j);
    let journal = root.join(".imgclass-undo.jsonl");
    let mut text = std::fs::read_to_string(&journal).unwrap();
    text += "{\"move\":{\"from\":\"/tmp/x";
    std::fs::write(&journal, text).unwrap();
    assert_eq!(undo(&root).unwrap(), Undone { reverted: 2, already: 1, refused: vec![] });
    for f in ["cat/a.png", "cat/b.png", "cat/c.png"] {
        assert_eq!(std::fs::read_to_string(root.join(f)).unwrap(), f);
    }
    assert_eq!(std::fs::read_to_string(&journal).unwrap(), "", "the apply is gone from the journal");
}

#[test]
fn an_undo_run_twice_is_the_same_as_once() {
    let (t, root) = pets(&["cat/a.png", "cat/b.png"]);
    let csv = write_csv(t.path(), &[("pets/cat/a.png", "delete"), ("pets/cat/b.png", "relabel:dog")]);
    std::fs::create_dir_all(root.join("dog")).unwrap();
    apply_to(&csv, &folders(&root), &Vocabulary::classes(classes()), t.path()).unwrap();
    // An undo killed after reverting one move: the journal still holds the whole apply.
    let journal = std::fs::read_to_string(root.join(".imgclass-undo.jsonl")).unwrap();
    rename_no_replace(&root.join("dog/b.png"), &root.join("cat/b.png")).unwrap();
    assert_eq!(undo(&root).unwrap(), Undone { reverted: 1, already: 1, refused: vec![] });
    std::fs::write(root.join(".imgclass-undo.jsonl"), journal).unwrap();
    assert_eq!(undo(&root).unwrap(), Undone { reverted: 0, already: 2, refused: vec![] });
    assert!(root.join("cat/a.png").is_file() && root.join("cat/b.png").is_file());
}

#[test]
fn undo_never_overwrites_a_file_made_since_and_keeps_its_entry_for_later() {
    let (t, root) = pets(&["cat/a.png", "cat/b.png"]);
    let csv = write_csv(t.path(), &[("pets/cat/a.png", "delete"), ("pets/cat/b.png", "delete")]);
    apply_to(&csv, &folders(&root), &Vocabulary::classes(classes()), t.path()).unwrap();
    std::fs::write(root.join("cat/a.png"), "new work").unwrap();
    let done = undo(&root).unwrap();
    assert_eq!((done.reverted, done.refused.len()), (1, 1));
    assert!(done.refused[0].contains("cat/a.png exists again"), "{:?}", done.refused);
    assert_eq!(std::fs::read_to_string(root.join("cat/a.png")).unwrap(), "new work");
    assert_eq!(std::fs::read_to_string(root.join("cat/b.png")).unwrap(), "cat/b.png");
    std::fs::rename(root.join("cat/a.png"), t.path().join("new-work.png")).unwrap();
    assert_eq!(undo(&root).unwrap(), Undone { reverted: 1, ..Undone::default() }, "the refused entry, retried");
    assert_eq!(std::fs::read_to_string(root.join("cat/a.png")).unwrap(), "cat/a.png");
}

#[test]
fn a_second_apply_waits_for_the_first_to_let_go_of_the_data_folder() {
    let (t, root) = pets(&["cat/a.png"]);
    let held = Journal::open(&root).unwrap();
    let csv = write_csv(t.path(), &[("pets/cat/a.png", "delete")]);
    let e = apply_to(&csv, &folders(&root), &Vocabulary::classes(classes()), t.path()).unwrap_err().to_string();
    assert!(e.contains("another"), "{e}");
    drop(held);
    apply_to(&csv, &folders(&root), &Vocabulary::classes(classes()), t.path()).unwrap();
}

#[test]
fn a_labels_csv_is_rewritten_row_for_row_and_restored() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir(t.path().join("img")).unwrap();
    for f in ["a.png", "b.png", "c,d.png"] {
        std::fs::write(t.path().join("img").join(f), "x").unwrap();
    }
    let labels = t.path().join("labels.csv");
    let original = "path,label\nimg/a.png, cat\r\nimg/b.png,dog\n\"img/c,d.png\",cat,extra\n";
    std::fs::write(&labels, original).unwrap();
    let csv =
        write_csv(t.path(), &[("img/a.png", "relabel:dog"), ("img/b.png", "delete"), ("img/c,d.png", "relabel:dog")]);
    let root = t.path().canonicalize().unwrap();
    let store = LabelStore::Csv { root: root.clone(), csv: labels.clone(), columns: TargetColumns::default() };
    assert_eq!(
        apply_to(&csv, &store, &Vocabulary::classes(classes()), t.path()).unwrap(),
        Applied { relabelled: 2, deleted: 1, kept: 0 }
    );
    assert_eq!(std::fs::read_to_string(&labels).unwrap(), "path,label\nimg/a.png,dog\n\"img/c,d.png\",dog,extra\n");
    assert_eq!(undo(&root).unwrap().reverted, 1);
    assert_eq!(std::fs::read_to_string(&labels).unwrap(), original);
}

/// A folder with images `img/a.png`, `img/b.png`, `img/c.png` and `labels.csv` holding `text`.
fn labelled(text: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir(t.path().join("img")).unwrap();
    for f in ["a.png", "b.png", "c.png"] {
        std::fs::write(t.path().join("img").join(f), "x").unwrap();
    }
    let labels = t.path().join("labels.csv");
    std::fs::write(&labels, text).unwrap();
    let root = t.path().canonicalize().unwrap();
    (t, root, labels)
}

fn vocabulary(task: TaskKind, names: &[&str]) -> Vocabulary {
    Vocabulary { task, names: names.iter().map(|n| n.to_string()).collect(), delim: ' ' }
}

#[test]
fn several_labels_in_one_cell_or_in_their_own_columns_are_rewritten_and_restored() {
    let original = "path,tags\nimg/a.png,cat dog\nimg/b.png,dog\nimg/c.png,\n";
    let (t, root, labels) = labelled(original);
    let csv =
        write_csv(t.path(), &[("img/a.png", "relabel:cat"), ("img/b.png", "keep"), ("img/c.png", "relabel:dog cat")]);
    let store = LabelStore::Csv { root: root.clone(), csv: labels.clone(), columns: TargetColumns::default() };
    let multi = vocabulary(TaskKind::MultiLabel, &["cat", "dog"]);
    assert_eq!(apply_to(&csv, &store, &multi, t.path()).unwrap(), Applied { relabelled: 2, deleted: 0, kept: 1 });
    let after = "path,tags\nimg/a.png,cat\nimg/b.png,dog\nimg/c.png,cat dog\n";
    assert_eq!(std::fs::read_to_string(&labels).unwrap(), after);
    assert_eq!(undo(&root).unwrap().reverted, 1);
    assert_eq!(std::fs::read_to_string(&labels).unwrap(), original);

    std::fs::write(&labels, "path,cat,dog\nimg/a.png,1,1\nimg/b.png,0,1\nimg/c.png,0,0\n").unwrap();
    let columns = TargetColumns { label_columns: Some(Vec::new()), ..TargetColumns::default() };
    let store = LabelStore::Csv { root: root.clone(), csv: labels.clone(), columns };
    let csv = write_csv(t.path(), &[("img/a.png", "relabel:dog"), ("img/c.png", "relabel:")]);
    apply_to(&csv, &store, &multi, t.path()).unwrap();
    let after = "path,cat,dog\nimg/a.png,0,1\nimg/b.png,0,1\nimg/c.png,0,0\n";
    assert_eq!(std::fs::read_to_string(&labels).unwrap(), after);
}

#[test]
fn numbers_are_written_into_their_columns_and_a_bad_one_changes_nothing() {
    let original = "path,angle,size\nimg/a.png,10,2\nimg/b.png,20,3\nimg/c.png,30,4\n";
    let (t, root, labels) = labelled(original);
    let columns = TargetColumns { targets: Some(vec!["size".into(), "angle".into()]), ..TargetColumns::default() };
    let store = LabelStore::Csv { root: root.clone(), csv: labels.clone(), columns };
    let numbers = vocabulary(TaskKind::Regression, &["size", "angle"]);
    let csv = write_csv(t.path(), &[("img/a.png", "relabel:angle 12.5, size 3"), ("img/c.png", "delete")]);
    apply_to(&csv, &store, &numbers, t.path()).unwrap();
    assert_eq!(std::fs::read_to_string(&labels).unwrap(), "path,angle,size\nimg/a.png,12.5,3\nimg/b.png,20,3\n");
    undo(&root).unwrap();

    let count = vocabulary(TaskKind::Count, &["apples"]);
    for (action, why) in [("relabel:2.5", "not a count"), ("relabel:many", "not a count"), ("relabel:", "not a count")]
    {
        let csv = write_csv(t.path(), &[("img/b.png", "relabel:4"), ("img/a.png", action)]);
        let e = apply_to(&csv, &store, &count, t.path()).unwrap_err().to_string();
        assert!(e.contains("clean.csv:3") && e.contains(why), "{action}: {e}");
        assert_eq!(std::fs::read_to_string(&labels).unwrap(), original, "nothing changed");
    }
    let e = apply_to(&write_csv(t.path(), &[("img/a.png", "relabel:size 3")]), &store, &numbers, t.path());
    assert!(e.unwrap_err().to_string().contains("no value for \"angle\""));
}
