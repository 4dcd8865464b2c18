//! The file dialogs: pick audio files to import, choose where an export goes. They are
//! `egui-file-dialog`'s, drawn by egui itself (no GTK or desktop portal, which a Bevy window
//! does not have), and open in the folder used last (kept in the settings).

use std::path::PathBuf;

use bevy::prelude::*;
use bevy_egui::egui;
use egui_file_dialog::{DialogState, FileDialog};

use crate::transcript::export::Format;

/// What a dialog is open for.
#[derive(Debug, Clone, PartialEq)]
pub enum Purpose {
    Import,
    Export { format: Format, words: bool },
}

/// What the user chose.
#[derive(Debug, Clone, PartialEq)]
pub enum Chosen {
    Import(Vec<PathBuf>),
    Export {
        format: Format,
        words: bool,
        path: PathBuf,
    },
}

/// How many recent folders the dialogs list.
pub const RECENT_FOLDERS: usize = 6;

/// The open dialog (at most one), the folder used last and the recent ones.
#[derive(Resource, Default)]
pub struct FileDialogs {
    open: Option<(Purpose, FileDialog)>,
    pub last_folder: Option<PathBuf>,
    /// Folders files were picked in lately, newest first.
    pub recent: Vec<PathBuf>,
}

impl FileDialogs {
    /// Where a dialog opens: the folder used last, else the user's audio (music) folder,
    /// else their home.
    pub fn start_folder(&self) -> PathBuf {
        let user = directories::UserDirs::new();
        self.last_folder
            .clone()
            .filter(|d| d.is_dir())
            .or_else(|| {
                user.as_ref()
                    .and_then(|u| u.audio_dir())
                    .filter(|d| d.is_dir())
                    .map(std::path::Path::to_path_buf)
            })
            .or_else(|| user.as_ref().map(|u| u.home_dir().to_path_buf()))
            .unwrap_or_else(std::env::temp_dir)
    }

    fn dialog(&self, title: &str) -> FileDialog {
        let recent: Vec<PathBuf> = self.recent.iter().filter(|d| d.is_dir()).cloned().collect();
        let mut d = FileDialog::new()
            .title(title)
            .initial_directory(self.start_folder())
            .default_size([760.0, 480.0]);
        if !recent.is_empty() {
            d = d.add_quick_access("Recent folders", |q| {
                for r in &recent {
                    let name = r
                        .file_name()
                        .map_or_else(|| r.display().to_string(), |n| n.to_string_lossy().into());
                    q.add_path(&name, r.clone());
                }
            });
        }
        d
    }

    /// A folder files were picked in: used last, and first of the recent ones.
    fn used(&mut self, folder: PathBuf) {
        self.recent.retain(|r| *r != folder);
        self.recent.insert(0, folder.clone());
        self.recent.truncate(RECENT_FOLDERS);
        self.last_folder = Some(folder);
    }

    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Opens the dialog that picks audio files to import.
    pub fn open_import(&mut self) {
        let mut d = self
            .dialog("Import audio")
            .add_file_filter_extensions(
                "Audio (WAV, FLAC, MP3, Ogg)",
                vec!["wav", "flac", "mp3", "ogg", "oga"],
            )
            .default_file_filter("Audio (WAV, FLAC, MP3, Ogg)");
        d.pick_multiple();
        self.open = Some((Purpose::Import, d));
    }

    /// Opens the dialog that asks where an export goes (`name`: the suggested file name).
    pub fn open_export(&mut self, format: Format, words: bool, name: &str) {
        let mut d = self.dialog("Export").default_file_name(name);
        d.save_file();
        self.open = Some((Purpose::Export { format, words }, d));
    }

    /// Draws the open dialog; what the user chose, once they have.
    pub fn show(&mut self, ctx: &egui::Context) -> Option<Chosen> {
        let (purpose, dialog) = self.open.as_mut()?;
        dialog.update(ctx);
        let chosen = match (purpose.clone(), dialog.state()) {
            (Purpose::Import, DialogState::PickedMultiple(paths)) => {
                Some(Chosen::Import(paths.clone()))
            }
            (Purpose::Import, DialogState::Picked(path)) => {
                Some(Chosen::Import(vec![path.clone()]))
            }
            (Purpose::Export { format, words }, DialogState::Picked(path)) => {
                Some(Chosen::Export {
                    format,
                    words,
                    path: path.clone(),
                })
            }
            (_, DialogState::Open) => return None,
            // Cancelled or closed.
            _ => None,
        };
        self.open = None;
        if let Some(c) = &chosen {
            let any = match c {
                Chosen::Import(paths) => paths.first().cloned(),
                Chosen::Export { path, .. } => Some(path.clone()),
            };
            if let Some(folder) = any.and_then(|p| p.parent().map(std::path::Path::to_path_buf)) {
                self.used(folder);
            }
        }
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(ctx: &egui::Context, d: &mut FileDialogs, events: Vec<egui::Event>) -> Option<Chosen> {
        let input = egui::RawInput {
            events,
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(1280.0, 800.0),
            )),
            ..Default::default()
        };
        let mut chosen = None;
        let mut out = ctx.run_ui(input, |ui| chosen = d.show(ui.ctx()));
        out.textures_delta.clear();
        chosen
    }

    #[test]
    fn a_dialog_opens_in_the_last_folder_and_escape_cancels_it() {
        let ctx = egui::Context::default();
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut d = FileDialogs {
            last_folder: Some(dir.path().to_path_buf()),
            ..FileDialogs::default()
        };
        assert!(frame(&ctx, &mut d, Vec::new()).is_none());
        d.open_import();
        assert!(d.is_open());
        assert!(frame(&ctx, &mut d, Vec::new()).is_none());
        assert!(d.is_open(), "open until the user picks or cancels");
        let escape = egui::Event::Key {
            key: egui::Key::Escape,
            physical_key: None,
            pressed: true,
            repeat: false,
            modifiers: egui::Modifiers::NONE,
        };
        assert!(frame(&ctx, &mut d, vec![escape]).is_none());
        assert!(!d.is_open(), "Escape cancels");
        assert_eq!(
            d.last_folder.as_deref(),
            Some(dir.path()),
            "nothing chosen: unchanged"
        );
    }

    /// Issue 27: a dialog no longer opens in an empty home folder: the folder used last, and
    /// the recent ones listed (newest first, each once, a few).
    #[test]
    fn picked_folders_become_the_start_and_the_recent_list() {
        let dirs: Vec<tempfile::TempDir> = (0..8)
            .map(|_| tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")))
            .collect();
        let mut d = FileDialogs::default();
        for t in &dirs {
            d.used(t.path().to_path_buf());
        }
        d.used(dirs[5].path().to_path_buf());
        assert_eq!(d.start_folder(), dirs[5].path());
        assert_eq!(d.recent.len(), RECENT_FOLDERS);
        assert_eq!(d.recent[0], dirs[5].path());
        assert_eq!(d.recent[1], dirs[7].path());
        assert_eq!(
            d.recent.iter().filter(|r| *r == dirs[5].path()).count(),
            1,
            "each folder once"
        );
        // A folder gone since is not where a dialog opens.
        let gone = dirs[5].path().join("removed");
        d.last_folder = Some(gone.clone());
        assert_ne!(d.start_folder(), gone);
    }
}
