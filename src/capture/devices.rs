//! Input devices as cpal sees them, by stable id (`host:device`, e.g. `alsa:pulse`) and name.

use cpal::traits::{DeviceTrait, HostTrait};
use serde::Serialize;

/// One configuration range a device offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigRange {
    pub channels: u16,
    pub min_rate: u32,
    pub max_rate: u32,
    pub sample_format: String,
}

/// An input device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputDevice {
    /// Stable id (`host:device`): what `--device` and the settings store.
    pub id: String,
    pub name: String,
    pub is_default: bool,
    /// `(rate, channels, format)` the device prefers, if it says.
    pub default_config: Option<ConfigRange>,
    pub configs: Vec<ConfigRange>,
    /// Why the device's configurations could not be read, if they could not.
    pub error: Option<String>,
}

/// Lists the input devices of the default host. An unusable device is listed with its error
/// rather than hidden; no devices at all is an empty list, not an error.
pub fn list_inputs() -> Vec<InputDevice> {
    let host = cpal::default_host();
    let default_id = host
        .default_input_device()
        .and_then(|d| d.id().ok())
        .map(|id| id.to_string());
    let devices = match host.input_devices() {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!("cannot list input devices: {e}");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for device in devices {
        let id = match device.id() {
            Ok(id) => id.to_string(),
            Err(e) => {
                tracing::debug!("skipping an input device without an id: {e}");
                continue;
            }
        };
        let name = device
            .description()
            .map(|d| d.name().to_owned())
            .unwrap_or_else(|_| id.clone());
        let default_config = device.default_input_config().ok().map(|c| ConfigRange {
            channels: c.channels(),
            min_rate: c.sample_rate(),
            max_rate: c.sample_rate(),
            sample_format: c.sample_format().to_string(),
        });
        let (configs, error) = match device.supported_input_configs() {
            Ok(cs) => (
                cs.map(|c| ConfigRange {
                    channels: c.channels(),
                    min_rate: c.min_sample_rate(),
                    max_rate: c.max_sample_rate(),
                    sample_format: c.sample_format().to_string(),
                })
                .collect(),
                None,
            ),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        out.push(InputDevice {
            is_default: default_id.as_deref() == Some(id.as_str()),
            id,
            name,
            default_config,
            configs,
            error,
        });
    }
    out
}

/// Finds a device by exact id, then exact name, then a unique case-insensitive part of a name.
pub fn find<'a>(devices: &'a [InputDevice], query: &str) -> Result<&'a InputDevice, String> {
    if let Some(d) = devices
        .iter()
        .find(|d| d.id == query)
        .or_else(|| devices.iter().find(|d| d.name == query))
    {
        return Ok(d);
    }
    let q = query.to_lowercase();
    let matches: Vec<&InputDevice> = devices
        .iter()
        .filter(|d| d.name.to_lowercase().contains(&q))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(format!(
            "no input device matches \"{query}\"; `verbatim devices` lists them"
        )),
        many => Err(format!(
            "\"{query}\" matches {} devices ({}); use the id",
            many.len(),
            many.iter()
                .map(|d| d.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by design
mod tests {
    use super::{InputDevice, find};

    fn dev(id: &str, name: &str) -> InputDevice {
        InputDevice {
            id: id.into(),
            name: name.into(),
            is_default: false,
            default_config: None,
            configs: Vec::new(),
            error: None,
        }
    }

    #[test]
    fn devices_are_found_by_id_name_or_a_unique_part_of_a_name() {
        let list = [
            dev("alsa:hw:1,0", "USB Microphone"),
            dev("alsa:pulse", "PulseAudio Sound Server"),
            dev("alsa:hw:2,0", "USB Headset"),
        ];
        assert_eq!(
            find(&list, "alsa:pulse").map(|d| d.name.as_str()),
            Ok("PulseAudio Sound Server")
        );
        assert_eq!(
            find(&list, "USB Headset").map(|d| d.id.as_str()),
            Ok("alsa:hw:2,0")
        );
        assert_eq!(
            find(&list, "microphone").map(|d| d.id.as_str()),
            Ok("alsa:hw:1,0")
        );
        let many = find(&list, "usb").unwrap_err();
        assert!(many.contains("matches 2 devices"), "{many}");
        assert!(
            find(&list, "nothing")
                .unwrap_err()
                .contains("verbatim devices")
        );
    }
}
