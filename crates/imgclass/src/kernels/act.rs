//! The activations fused into our kernels (after a batch norm, or a folded one's shift), as
//! values ([`Act`]) and as types ([`ActFn`]), and the pass that applies a shift and an
//! activation to a convolution's output in place.

use super::simd::vectorized;

/// The activation fused after a batch norm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Act {
    /// None.
    Identity,
    /// `max(0, y)`; its gradient passes where `y > 0`, as Burn's `relu`.
    Relu,
    /// `min(max(0, y), 6)`, as Burn's `clamp(0, 6)`: its gradient passes where `0 ≤ y ≤ 6`.
    Relu6,
}

/// An [`Act`] as a type: each loop is compiled once per activation with its test inlined (a
/// `match` on the activation per element kept the loops from vectorizing: measured, the
/// backward's two loops took 3× longer).
pub(crate) trait ActFn {
    /// The activation of `y`.
    fn out(y: f32) -> f32;
    /// Whether the gradient passes at pre-activation `y`.
    fn keep(y: f32) -> bool;
}

pub(crate) struct NoAct;
pub(crate) struct ReluFn;
pub(crate) struct Relu6Fn;

impl ActFn for NoAct {
    #[inline(always)]
    fn out(y: f32) -> f32 {
        y
    }
    #[inline(always)]
    fn keep(_: f32) -> bool {
        true
    }
}

impl ActFn for ReluFn {
    #[inline(always)]
    fn out(y: f32) -> f32 {
        y.max(0.0)
    }
    #[inline(always)]
    fn keep(y: f32) -> bool {
        y > 0.0
    }
}

impl ActFn for Relu6Fn {
    #[inline(always)]
    fn out(y: f32) -> f32 {
        y.clamp(0.0, 6.0)
    }
    #[inline(always)]
    fn keep(y: f32) -> bool {
        (0.0..=6.0).contains(&y)
    }
}

/// `$f::<A>(args)` with `A` the [`ActFn`] of `$act`.
macro_rules! per_act {
    ($act:expr, $f:ident($($arg:expr),*)) => {
        match $act {
            Act::Identity => $f::<NoAct>($($arg),*),
            Act::Relu => $f::<ReluFn>($($arg),*),
            Act::Relu6 => $f::<Relu6Fn>($($arg),*),
        }
    };
}

pub(crate) use per_act;

/// What a convolution's forward applies to each output channel as it writes it: `+ shift[c]`
/// then the activation (a folded batch norm's shift and its activation).
pub(crate) type Post<'a> = Option<(&'a [f32], Act)>;

vectorized! {
    /// `y = act(y + shift)` in place: a convolution's bias (a folded batch norm's shift) and its
    /// activation, applied to one output plane.
    pub(crate) fn shift_act(y: &mut [f32], shift: f32, act: Act) = shift_act_loops;
}

#[inline(always)]
fn shift_act_loops(y: &mut [f32], shift: f32, act: Act) {
    per_act!(act, shift_act_with(y, shift))
}

#[inline(always)]
fn shift_act_with<A: ActFn>(y: &mut [f32], shift: f32) {
    y.iter_mut().for_each(|v| *v = A::out(*v + shift));
}
