//! Textures: the spectrograms drawn by the panels, uploaded to egui when they change.

use super::*;

pub(super) fn upload_spectrograms(
    mut commands: Commands,
    grams: Query<(Entity, &Spectrogram), With<crate::capture::plugin::CurrentTake>>,
    texture: Option<ResMut<SpectrogramTexture>>,
    mut images: ResMut<Assets<Image>>,
    mut contexts: EguiContexts,
) {
    use bevy::asset::RenderAssetUsages;
    use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
    let Some((entity, gram)) = grams.iter().next() else {
        return;
    };
    let fits = |image: &Image| {
        image.width() as usize == gram.columns && image.height() as usize == gram.bands
    };
    if let Some(mut t) = texture {
        if t.shown == Some((entity, gram.generation)) {
            return;
        }
        if let Some(mut image) = images.get_mut(&t.image)
            && fits(&image)
        {
            image.data = Some(gram.rgba.clone());
            t.shown = Some((entity, gram.generation));
            return;
        }
    }
    let size = Extent3d {
        width: gram.columns as u32,
        height: gram.bands as u32,
        depth_or_array_layers: 1,
    };
    let mut image = Image::new_fill(
        size,
        TextureDimension::D2,
        &[0, 0, 0, 255],
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::all(),
    );
    image.data = Some(gram.rgba.clone());
    let handle = images.add(image);
    let egui = contexts.add_image(bevy_egui::EguiTextureHandle::Strong(handle.clone()));
    commands.insert_resource(SpectrogramTexture {
        image: handle,
        egui,
        shown: Some((entity, gram.generation)),
    });
}
