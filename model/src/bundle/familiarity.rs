//! How a member's familiarity statistics (see [`crate::familiarity`]) are
//! stored: four tensors named `familiarity.*` in the member's weight file.

use super::codec::NamedTensor;
use crate::familiarity::{Familiarity, FamiliarityError};

/// Tensor names inside a member's weight file start with this.
pub const PREFIX: &str = "familiarity.";

/// The statistics as tensors for a weight file.
pub fn to_tensors(familiarity: &Familiarity) -> Vec<NamedTensor> {
    let d = familiarity.features();
    let tensor = |name: &str, shape: Vec<usize>, values: Vec<f32>| NamedTensor {
        name: format!("{PREFIX}{name}"),
        shape,
        values,
    };
    vec![
        tensor("means", vec![familiarity.means.len(), d], familiarity.means.concat()),
        tensor(
            "components",
            vec![familiarity.components.len(), d],
            familiarity.components.concat(),
        ),
        tensor("variances", vec![familiarity.variances.len()], familiarity.variances.clone()),
        tensor("residual_variance", vec![1], vec![familiarity.residual_variance]),
    ]
}

/// Takes the familiarity tensors out of `tensors`: `None` when there are none.
pub fn take_from(tensors: &mut Vec<NamedTensor>) -> Result<Option<Familiarity>, FamiliarityError> {
    let (ours, rest): (Vec<_>, Vec<_>) =
        std::mem::take(tensors).into_iter().partition(|t| t.name.starts_with(PREFIX));
    *tensors = rest;
    if ours.is_empty() {
        return Ok(None);
    }
    let find = |name: &str| {
        ours.iter()
            .find(|t| t.name.strip_prefix(PREFIX) == Some(name))
            .ok_or_else(|| FamiliarityError(format!("'{PREFIX}{name}' is missing")))
    };
    let rows = |t: &NamedTensor| -> Result<Vec<Vec<f32>>, FamiliarityError> {
        match t.shape[..] {
            [n, d] if d > 0 && t.values.len() == n * d => {
                Ok(t.values.chunks(d).map(<[f32]>::to_vec).collect())
            }
            _ => Err(FamiliarityError(format!("'{}' is not a matrix", t.name))),
        }
    };
    let familiarity = Familiarity {
        means: rows(find("means")?)?,
        components: rows(find("components")?)?,
        variances: find("variances")?.values.clone(),
        residual_variance: find("residual_variance")?.values.first().copied().unwrap_or(0.0),
    };
    familiarity.validate()?;
    Ok(Some(familiarity))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::familiarity::sample;

    #[test]
    fn tensors_round_trip_and_are_checked() {
        let f = sample();
        let mut tensors = to_tensors(&f);
        tensors.push(NamedTensor { name: "head.bias".into(), shape: vec![1], values: vec![0.0] });
        assert_eq!(take_from(&mut tensors).unwrap(), Some(f.clone()));
        assert_eq!(tensors.len(), 1, "only the member's own tensors are left");
        assert_eq!(take_from(&mut tensors).unwrap(), None);

        let mut broken = to_tensors(&f);
        broken[2].values[0] = -1.0;
        assert!(take_from(&mut broken).is_err());
        let mut partial = to_tensors(&f);
        partial.remove(1);
        assert!(take_from(&mut partial).is_err());
    }
}
