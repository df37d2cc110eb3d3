"""Dose, vial and rate arithmetic, checked against hand-computed label examples.

Label figures: docs/ivig-products.md; practice rules:
docs/clinical-practice.md. All products are 10% (100 mg/mL),
so mL/h = mg/kg/min x kg x 60 / 100 = mg/kg/min x kg x 0.6.
"""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infusions import dosing
from infusions.dosing import DoseInput, LadderStep, Step, VialCount

OCTAGAM_LADDER = (Step(1, 30), Step(2, 30), Step(4, 30), Step(8, 30))
OCTAGAM_VIALS = (2.0, 5.0, 10.0, 20.0)
PANZYGA_CITP_LADDER = (Step(1, 30), Step(4, 30))
PANZYGA_LADDER = OCTAGAM_LADDER  # PI and CIDP: 1, 2, 4, 8 x 30 min
PANZYGA_VIALS = (1.0, 2.5, 5.0, 10.0, 20.0, 30.0)
BIVIGAM_LADDER = (Step(0.5, 10), *(Step(r, 20) for r in (1.3, 2.1, 2.9, 3.7, 4.5, 5.3)))
BIVIGAM_VIALS = (5.0, 10.0)
GAMMAGARD_VIALS = PANZYGA_VIALS


def ml_kg_h(value: float) -> float:
    """Gammagard's label unit: 1 mL/kg/h of 10% = 100 mg/kg/h = 100/60 mg/kg/min."""
    return value * 100 / 60


GAMMAGARD_LADDER = tuple(Step(ml_kg_h(r), 30) for r in (0.5, 1, 2, 3, 4))


def dose(**changes: object) -> DoseInput:
    """Octagam 10% dermatomyositis for a 70 kg patient, 2 g/kg over 2 days."""
    base: dict[str, object] = {
        "actual_weight_kg": 70.0,
        "dose_g_per_kg": 2.0,
        "days": 2,
        "ladder": OCTAGAM_LADDER,
        "protocol_max_rate": 4.0,
        "vial_sizes_g": OCTAGAM_VIALS,
    }
    return DoseInput(**{**base, **changes})  # type: ignore[arg-type]


def rates(result: dosing.DoseResult) -> list[float]:
    return [step.rate_mg_kg_min for step in result.steps]


# --- The worked example and every catalogue label -----------------------------


def test_it_reproduces_the_octagam_dermatomyositis_worked_example_exactly() -> None:
    result = dosing.calculate(dose())
    # 2 g/kg x 70 kg / 2 days = 70 g = 3 x 20 + 1 x 10; 70 g x 1000 / 100 mg/mL = 700 mL.
    assert result.grams_per_day_exact == 70.0
    assert result.grams_per_day == 70.0
    assert result.vials == (VialCount(20.0, 3), VialCount(10.0, 1))
    assert result.volume_ml_per_day == 700.0
    # 1 -> 70 x 0.6 = 42 mL/h (21 mL), 2 -> 84 mL/h (42 mL), 8 clamped to the DM max 4:
    # 4 -> 168 mL/h for the other 700 - 63 = 637 mL: 637 x 60 / 168 = 227.5 min.
    assert result.steps == (
        LadderStep(0.0, 30.0, 1.0, 42.0),
        LadderStep(30.0, 30.0, 2.0, 84.0),
        LadderStep(60.0, 227.5, 4.0, 168.0),
    )
    assert result.max_rate_mg_kg_min == 4.0
    assert result.max_rate_ml_per_hour == 168.0
    assert result.infusion_minutes == 287.5  # 30 + 30 + 227.5
    assert result.chair_minutes == 360  # 30 + 287.5 + 30 = 347.5 -> next 15-min slot 360
    assert result.warnings == ()


def test_it_runs_the_whole_octagam_chronic_itp_ladder_then_12() -> None:
    result = dosing.calculate(dose(dose_g_per_kg=2.0, days=2, protocol_max_rate=12.0))
    # 42, 84, 168, 336 mL/h x 30 min = 21 + 42 + 84 + 168 = 315 mL; 385 mL left at
    # 12 x 42 = 504 mL/h: 385 x 60 / 504 = 45.8333 min; total 165.8333 min.
    assert rates(result) == [1, 2, 4, 8, 12]
    assert [s.rate_ml_per_hour for s in result.steps] == pytest.approx([42, 84, 168, 336, 504])
    assert result.steps[-1].minutes == pytest.approx(385 * 60 / 504)
    assert result.infusion_minutes == pytest.approx(165.833333333)
    assert result.chair_minutes == 240  # 225.83 -> 240


def test_it_caps_octagam_at_3_for_a_thrombosis_or_renal_risk_patient() -> None:
    result = dosing.calculate(dose(risk_cap=3.0, at_risk=True))
    # 1 x 30 (21 mL), 2 x 30 (42 mL), 4 clamped to 3 -> 3 x 42 = 126 mL/h for 637 mL:
    # 637 x 60 / 126 = 303.3333 min; total 363.3333; chair 423.33 -> 435.
    assert rates(result) == [1, 2, 3]
    assert result.max_rate_ml_per_hour == pytest.approx(126.0)
    assert result.infusion_minutes == pytest.approx(363.333333333)
    assert result.chair_minutes == 435


def test_it_ignores_the_risk_cap_for_a_patient_not_at_risk() -> None:
    assert rates(dosing.calculate(dose(risk_cap=3.0, at_risk=False))) == [1, 2, 4]


def test_it_runs_panzyga_chronic_itp_1_then_4_then_8() -> None:
    result = dosing.calculate(
        dose(
            dose_g_per_kg=1.0,
            days=1,
            ladder=PANZYGA_CITP_LADDER,
            protocol_max_rate=8.0,
            vial_sizes_g=PANZYGA_VIALS,
        )
    )
    # 70 g = 30 + 30 + 10; 700 mL. 42 mL/h x 30 = 21, 168 mL/h x 30 = 84; 595 mL left
    # at 8 x 42 = 336 mL/h: 595 x 60 / 336 = 106.25 min; total 166.25.
    assert result.vials == (VialCount(30.0, 2), VialCount(10.0, 1))
    assert rates(result) == [1, 4, 8]
    assert result.steps[-1] == LadderStep(60.0, pytest.approx(106.25), 8.0, 336.0)
    assert result.infusion_minutes == pytest.approx(166.25)


def test_it_runs_panzyga_primary_immunodeficiency_up_to_14() -> None:
    result = dosing.calculate(
        dose(
            actual_weight_kg=60.0,
            dose_g_per_kg=0.6,
            days=1,
            ladder=PANZYGA_LADDER,
            protocol_max_rate=14.0,
            vial_sizes_g=PANZYGA_VIALS,
        )
    )
    # 0.6 x 60 = 36 g = 30 + 5 + 1 (3 vials); 360 mL. At 60 kg x 0.6 = 36 mL/h per
    # mg/kg/min: 18 + 36 + 72 + 144 = 270 mL in 120 min; 90 mL at 14 x 36 = 504 mL/h:
    # 90 x 60 / 504 = 10.7143 min; total 130.7143; chair 190.71 -> 195.
    assert result.grams_per_day == pytest.approx(36.0)
    assert result.vials == (VialCount(30.0, 1), VialCount(5.0, 1), VialCount(1.0, 1))
    assert rates(result) == [1, 2, 4, 8, 14]
    assert result.infusion_minutes == pytest.approx(120 + 90 * 60 / 504)
    assert result.chair_minutes == 195


def test_it_runs_panzyga_cidp_up_to_12() -> None:
    result = dosing.calculate(
        dose(actual_weight_kg=80.0, ladder=PANZYGA_LADDER, protocol_max_rate=12.0, vial_sizes_g=PANZYGA_VIALS)
    )
    # 2 x 80 / 2 = 80 g = 30 + 30 + 20; 800 mL. 48 mL/h per mg/kg/min: 24 + 48 + 96 + 192
    # = 360 mL; 440 mL at 12 x 48 = 576 mL/h: 440 x 60 / 576 = 45.8333; total 165.8333.
    assert result.vials == (VialCount(30.0, 2), VialCount(20.0, 1))
    assert rates(result) == [1, 2, 4, 8, 12]
    assert result.infusion_minutes == pytest.approx(165.833333333)


def test_it_caps_panzyga_at_3_3_for_a_risk_patient() -> None:
    result = dosing.calculate(
        dose(
            actual_weight_kg=80.0,
            ladder=PANZYGA_LADDER,
            protocol_max_rate=12.0,
            vial_sizes_g=PANZYGA_VIALS,
            risk_cap=3.3,
            at_risk=True,
        )
    )
    # 24 + 48 = 72 mL in 60 min; 4 clamped to 3.3 -> 3.3 x 48 = 158.4 mL/h for 728 mL:
    # 728 x 60 / 158.4 = 275.7576 min; total 335.7576.
    assert rates(result) == [1, 2, 3.3]
    assert result.max_rate_ml_per_hour == pytest.approx(158.4)
    assert result.infusion_minutes == pytest.approx(60 + 728 * 60 / 158.4)


def test_it_runs_the_bivigam_ladder_of_0_8_steps_up_to_6() -> None:
    result = dosing.calculate(
        dose(
            actual_weight_kg=50.0,
            dose_g_per_kg=0.5,
            days=1,
            ladder=BIVIGAM_LADDER,
            protocol_max_rate=6.0,
            vial_sizes_g=BIVIGAM_VIALS,
        )
    )
    # 25 g = 10 + 10 + 5; 250 mL. 50 kg x 0.6 = 30 mL/h per mg/kg/min:
    # 0.5 -> 15 mL/h x 10 min = 2.5 mL; then x 20 min: 39 -> 13, 63 -> 21, 87 -> 29,
    # 111 -> 37, 135 -> 45, 159 -> 53; sum 200.5 mL in 130 min; 49.5 mL at 180 mL/h:
    # 16.5 min; total 146.5; chair 206.5 -> 210.
    assert result.vials == (VialCount(10.0, 2), VialCount(5.0, 1))
    assert rates(result) == [0.5, 1.3, 2.1, 2.9, 3.7, 4.5, 5.3, 6.0]
    assert result.steps[-1].minutes == pytest.approx(16.5)
    assert result.infusion_minutes == pytest.approx(146.5)
    assert result.chair_minutes == 210


def test_it_holds_bivigam_at_2_for_a_risk_patient() -> None:
    result = dosing.calculate(
        dose(
            actual_weight_kg=50.0,
            dose_g_per_kg=0.5,
            days=1,
            ladder=BIVIGAM_LADDER,
            protocol_max_rate=6.0,
            vial_sizes_g=BIVIGAM_VIALS,
            risk_cap=2.0,
            at_risk=True,
        )
    )
    # 0.5 x 10 (2.5 mL), 1.3 x 20 (13 mL), 2.1 clamped to 2 -> 60 mL/h for 234.5 mL:
    # 234.5 min; total 10 + 20 + 234.5 = 264.5.
    assert rates(result) == [0.5, 1.3, 2.0]
    assert result.steps[-1].minutes == pytest.approx(234.5)
    assert result.infusion_minutes == pytest.approx(264.5)


def test_it_converts_the_gammagard_ml_kg_h_ladder_for_primary_immunodeficiency() -> None:
    result = dosing.calculate(
        dose(
            dose_g_per_kg=1.0,
            days=1,
            ladder=GAMMAGARD_LADDER,
            protocol_max_rate=ml_kg_h(5),
            vial_sizes_g=GAMMAGARD_VIALS,
        )
    )
    # mL/kg/h x 70 kg: 35, 70, 140, 210, 280 mL/h x 30 min = 17.5 + 35 + 70 + 105 + 140
    # = 367.5 mL; max 5 mL/kg/h = 8.333 mg/kg/min = 350 mL/h for 332.5 mL: 57 min;
    # total 150 + 57 = 207; chair 267 -> 270.
    assert result.max_rate_mg_kg_min == pytest.approx(8.333333333)
    assert result.max_rate_ml_per_hour == pytest.approx(350.0)
    assert [s.rate_ml_per_hour for s in result.steps] == pytest.approx([35, 70, 140, 210, 280, 350])
    assert result.infusion_minutes == pytest.approx(207.0)
    assert result.chair_minutes == 270


def test_it_converts_the_gammagard_mmn_maximum_to_9_mg_kg_min() -> None:
    result = dosing.calculate(
        dose(
            dose_g_per_kg=1.0,
            days=1,
            ladder=GAMMAGARD_LADDER,
            protocol_max_rate=ml_kg_h(5.4),
            vial_sizes_g=GAMMAGARD_VIALS,
        )
    )
    # 5.4 mL/kg/h x 100 / 60 = 9 mg/kg/min = 378 mL/h at 70 kg; after 367.5 mL in 150 min,
    # 332.5 mL at 378 mL/h = 52.7778 min; total 202.7778.
    assert result.max_rate_mg_kg_min == pytest.approx(9.0)
    assert result.max_rate_ml_per_hour == pytest.approx(378.0)
    assert result.infusion_minutes == pytest.approx(150 + 332.5 * 60 / 378)


# --- Caps and the ladder --------------------------------------------------------


def test_it_lets_a_tolerated_cap_below_the_risk_cap_win() -> None:
    limit = dosing.effective_max_rate(protocol_max=4.0, risk_cap=3.0, at_risk=True, tolerated_cap=2.5)
    assert limit == 2.5


def test_it_lets_the_risk_cap_win_over_a_higher_tolerated_cap() -> None:
    limit = dosing.effective_max_rate(protocol_max=12.0, risk_cap=3.3, at_risk=True, tolerated_cap=6.0)
    assert limit == 3.3


def test_it_ends_the_ladder_at_a_step_exactly_equal_to_the_max() -> None:
    steps = dosing.planned_steps(ladder=OCTAGAM_LADDER, max_rate=2.0)
    assert steps == [Step(1, 30), Step(2.0, None)]


def test_it_runs_at_the_max_from_the_start_with_an_empty_ladder() -> None:
    schedule = dosing.infusion_schedule(volume_ml=168.0, ladder=(), max_rate=4.0, dosing_weight_kg=70.0)
    # 4 x 70 x 0.6 = 168 mL/h; 168 mL takes 60 min.
    assert schedule == [LadderStep(0.0, 60.0, 4.0, 168.0)]


def test_it_refuses_a_ladder_whose_rate_falls() -> None:
    with pytest.raises(dosing.DosingError) as error:
        dosing.planned_steps(ladder=(Step(2, 30), Step(1, 30)), max_rate=4.0)
    assert error.value.field == "ladder"


def test_it_converts_mg_kg_min_to_ml_per_hour_and_back() -> None:
    # 4 x 70 x 60 / 100 = 168 mL/h; 168 x 100 / (70 x 60) = 4.
    assert dosing.ml_per_hour(rate_mg_kg_min=4.0, dosing_weight_kg=70.0) == 168.0
    assert dosing.mg_kg_min(rate_ml_per_hour=168.0, dosing_weight_kg=70.0) == 4.0
    # 5% product: 50 mg/mL doubles the volume rate: 4 x 70 x 60 / 50 = 336.
    assert (
        dosing.ml_per_hour(rate_mg_kg_min=4.0, dosing_weight_kg=70.0, concentration_mg_per_ml=50.0) == 336.0
    )


def test_it_finishes_a_small_one_day_dose_inside_the_first_step() -> None:
    result = dosing.calculate(dose(actual_weight_kg=100.0, dose_g_per_kg=0.02, days=1))
    # 0.02 x 100 = 2 g = one 2 g vial = 20 mL; step 1 is 100 x 0.6 = 60 mL/h, which holds
    # 30 mL in its 30 min, so 20 mL takes 20 x 60 / 60 = 20 min; chair 80 -> 90.
    assert result.vials == (VialCount(2.0, 1),)
    assert result.steps == (LadderStep(0.0, 20.0, 1.0, 60.0),)
    assert result.chair_minutes == 90


def test_it_ends_a_schedule_partway_through_a_middle_step() -> None:
    schedule = dosing.infusion_schedule(
        volume_ml=40.0, ladder=OCTAGAM_LADDER, max_rate=4.0, dosing_weight_kg=70.0
    )
    # 21 mL at 42 mL/h in 30 min; 19 mL at 84 mL/h: 19 x 60 / 84 = 13.5714 min.
    assert [s.rate_mg_kg_min for s in schedule] == [1, 2]
    assert schedule[1].start_minute == 30.0
    assert schedule[1].minutes == pytest.approx(19 * 60 / 84)


def test_it_rounds_chair_time_up_to_the_slot_despite_float_noise() -> None:
    # 30 + 300.0000000001 + 30 is 360 for the clock, not 375.
    minutes = dosing.chair_minutes(
        infusion_minutes=300.0000000001, before_minutes=30, after_minutes=30, slot_minutes=15
    )
    assert minutes == 360
    # 30 + 300.5 + 60 = 390.5 -> 405.
    assert (
        dosing.chair_minutes(infusion_minutes=300.5, before_minutes=30, after_minutes=60, slot_minutes=15)
        == 405
    )


def test_it_rounds_display_values_half_up() -> None:
    assert dosing.display_ml_per_hour(0.25) == 0.3
    assert dosing.display_ml_per_hour(158.44) == 158.4
    assert dosing.display_minutes(45.833333) == 45.83
    assert dosing.display_minutes(106.255) == 106.26
    assert dosing.display_minutes(2.675) == 2.68  # round(2.675, 2) is 2.67


# --- Dosing weight ---------------------------------------------------------------

# 177.8 cm = 70 in; 162.56 cm = 64 in.


def test_it_computes_devine_ideal_weight_for_a_man_and_a_woman() -> None:
    # Male 70 in: 50 + 2.3 x 10 = 73. Female 64 in: 45.5 + 2.3 x 4 = 54.7.
    assert dosing.ideal_body_weight_kg(height_cm=177.8, sex="male") == pytest.approx(73.0)
    assert dosing.ideal_body_weight_kg(height_cm=162.56, sex="female") == pytest.approx(54.7)


def test_it_computes_adjusted_weight_40_percent_of_the_excess() -> None:
    # 73 + 0.4 x (100 - 73) = 83.8.
    assert dosing.adjusted_body_weight_kg(actual_kg=100.0, ideal_kg=73.0) == pytest.approx(83.8)


def test_it_computes_bmi() -> None:
    # 95 / 1.778^2 = 95 / 3.161284 = 30.051.
    assert dosing.body_mass_index(weight_kg=95.0, height_cm=177.8) == pytest.approx(30.0511, 1e-4)


def test_it_uses_ideal_weight_for_the_ideal_method() -> None:
    weight = dosing.dosing_weight_kg(method="ideal", actual_kg=90.0, height_cm=177.8, sex="male")
    assert weight == pytest.approx(73.0)


def test_it_never_puts_ideal_weight_above_actual() -> None:
    # IBW 73 > actual 60: the lower one.
    weight = dosing.dosing_weight_kg(method="ideal", actual_kg=60.0, height_cm=177.8, sex="male")
    assert weight == 60.0


def test_it_never_puts_adjusted_weight_above_actual() -> None:
    # Adjusted 73 + 0.4 x (60 - 73) = 67.8 > actual 60: the lower one.
    weight = dosing.dosing_weight_kg(method="adjusted", actual_kg=60.0, height_cm=177.8, sex="male")
    assert weight == 60.0


def test_it_uses_adjusted_weight_for_the_adjusted_method() -> None:
    # Female IBW 54.7; 54.7 + 0.4 x (80 - 54.7) = 64.82.
    weight = dosing.dosing_weight_kg(method="adjusted", actual_kg=80.0, height_cm=162.56, sex="female")
    assert weight == pytest.approx(64.82)


def test_it_keeps_actual_weight_in_auto_up_to_120_percent_of_ideal() -> None:
    # 1.2 x 73 = 87.6; 87.5 is below it and BMI 87.5 / 3.161284 = 27.7 < 30.
    weight = dosing.dosing_weight_kg(method="auto", actual_kg=87.5, height_cm=177.8, sex="male")
    assert weight == 87.5


def test_it_switches_auto_to_adjusted_above_120_percent_of_ideal() -> None:
    # 87.7 > 87.6 (BMI 27.7): 73 + 0.4 x 14.7 = 78.88.
    weight = dosing.dosing_weight_kg(method="auto", actual_kg=87.7, height_cm=177.8, sex="male")
    assert weight == pytest.approx(78.88)


def test_it_switches_auto_to_adjusted_at_bmi_30() -> None:
    # 95 kg at 177.8 cm: BMI 30.05 -> 73 + 0.4 x 22 = 81.8.
    weight = dosing.dosing_weight_kg(method="auto", actual_kg=95.0, height_cm=177.8, sex="male")
    assert weight == pytest.approx(81.8)


@given(height=st.floats(120, 230), sex=st.sampled_from(["female", "male"]))
def test_it_finds_bmi_30_always_past_120_percent_of_devine_ideal(height: float, sex: str) -> None:
    # Why no test isolates auto's BMI arm: 30 x h^2 - 1.2 x IBW(h) has no real root
    # (male: 30h^2 - 108.66h + 105.6, discriminant < 0), so BMI >= 30 implies > 120% IBW.
    weight_at_bmi_30 = 30 * (height / 100) ** 2
    assert weight_at_bmi_30 > 1.2 * dosing.ideal_body_weight_kg(height_cm=height, sex=sex)


def test_it_doses_on_the_dosing_weight_and_rates_per_kg_use_it_too() -> None:
    result = dosing.calculate(
        dose(
            actual_weight_kg=100.0, method="adjusted", height_cm=177.8, sex="male", dose_g_per_kg=1.0, days=1
        )
    )
    # Adjusted weight 73 + 0.4 x (100 - 73) = 83.8 kg -> 1 g/kg = 83.8 g exact;
    # step 1 rate = 1 x 83.8 x 0.6 = 50.28 mL/h (not 100 x 0.6 = 60).
    assert result.dosing_weight_kg == pytest.approx(83.8)
    assert result.grams_per_day_exact == pytest.approx(83.8)
    assert result.steps[0].rate_ml_per_hour == pytest.approx(50.28)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"method": "ideal", "actual_kg": 70.0, "sex": "male"}, "height_cm"),
        ({"method": "adjusted", "actual_kg": 70.0, "height_cm": 170.0}, "sex"),
        ({"method": "auto", "actual_kg": 70.0, "height_cm": 170.0, "sex": "x"}, "sex"),
        ({"method": "lean", "actual_kg": 70.0}, "dosing_weight_method"),
        ({"method": "actual", "actual_kg": 0.0}, "weight_kg"),
        # Female 100 cm = 39.37 in: 45.5 + 2.3 x (39.37 - 60) = -1.95 kg: not usable.
        ({"method": "ideal", "actual_kg": 20.0, "height_cm": 100.0, "sex": "female"}, "height_cm"),
    ],
)
def test_it_names_the_field_when_the_dosing_weight_cannot_be_worked_out(
    kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(dosing.DosingError) as error:
        dosing.dosing_weight_kg(**kwargs)  # type: ignore[arg-type]
    assert error.value.field == field


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"actual_weight_kg": 0.0}, "weight_kg"),
        ({"actual_weight_kg": 350.5}, "weight_kg"),
        ({"days": 0}, "days"),
        ({"days": 6}, "days"),
        ({"dose_g_per_kg": 0.0}, "dose_g_per_kg"),
        ({"dose_g_per_kg": 3.5}, "dose_g_per_kg"),
        ({"method": "lean"}, "dosing_weight_method"),
        ({"method": "ideal", "sex": "female"}, "height_cm"),
    ],
)
def test_it_refuses_an_out_of_range_dose_input(changes: dict[str, object], field: str) -> None:
    with pytest.raises(dosing.DosingError) as error:
        dosing.calculate(dose(**changes))
    assert error.value.field == field


# --- Vial rounding --------------------------------------------------------------


def test_it_keeps_an_exact_whole_vial_sum_in_the_fewest_vials() -> None:
    rounding = dosing.round_to_vials(grams=70.0, vial_sizes_g=OCTAGAM_VIALS)
    # 70 = 3 x 20 + 10 (4 vials).
    assert rounding == dosing.VialRounding(70.0, 70.0, (VialCount(20.0, 3), VialCount(10.0, 1)), True, None)


def test_it_uses_one_20_g_vial_rather_than_two_10s() -> None:
    rounding = dosing.round_to_vials(grams=20.0, vial_sizes_g=OCTAGAM_VIALS)
    assert rounding.vials == (VialCount(20.0, 1),)


def test_it_rounds_to_the_nearest_whole_vial_amount() -> None:
    up = dosing.round_to_vials(grams=73.4, vial_sizes_g=BIVIGAM_VIALS)
    # 73.4 lies between 70 (3.4 away) and 75 (1.6 away): 75 = 7 x 10 + 5.
    assert up.grams == 75.0
    assert up.vials == (VialCount(10.0, 7), VialCount(5.0, 1))
    down = dosing.round_to_vials(grams=71.2, vial_sizes_g=BIVIGAM_VIALS)
    # 71.2: 70 is 1.2 away, 75 is 3.8 away -> 70 = 7 x 10.
    assert down.grams == 70.0
    assert down.vials == (VialCount(10.0, 7),)


def test_it_makes_odd_gram_amounts_from_2_and_5_g_vials() -> None:
    rounding = dosing.round_to_vials(grams=71.2, vial_sizes_g=OCTAGAM_VIALS)
    # 71 (0.2 away) is reachable: 3 x 20 + 5 + 3 x 2 (7 vials; 11 g needs 5 + 2 + 2 + 2
    # because 1 g cannot be made), nearer than 72 (0.8 away).
    assert rounding.grams == 71.0
    assert rounding.vials == (VialCount(20.0, 3), VialCount(5.0, 1), VialCount(2.0, 3))


def test_it_sends_a_tie_to_the_smaller_amount() -> None:
    rounding = dosing.round_to_vials(grams=47.5, vial_sizes_g=BIVIGAM_VIALS)
    # 45 and 50 are both 2.5 away (5.3%): the smaller, 45 = 4 x 10 + 5.
    assert rounding.grams == 45.0
    assert rounding.vials == (VialCount(10.0, 4), VialCount(5.0, 1))
    assert rounding.rounded is True


def test_it_rounds_with_fractional_vials() -> None:
    rounding = dosing.round_to_vials(grams=33.7, vial_sizes_g=PANZYGA_VIALS)
    # 1 g and 2.5 g vials reach every 0.5 g from 1 g: 33.5 (0.2 away) beats 34 (0.3).
    # 33.5 = 30 + 2.5 + 1 (3 vials).
    assert rounding.grams == 33.5
    assert rounding.vials == (VialCount(30.0, 1), VialCount(2.5, 1), VialCount(1.0, 1))


def test_it_adds_up_two_and_a_half_gram_vials_without_float_error() -> None:
    rounding = dosing.round_to_vials(grams=7.5, vial_sizes_g=(2.5, 5.0))
    assert rounding.grams == 7.5
    assert rounding.vials == (VialCount(5.0, 1), VialCount(2.5, 1))


def test_it_accepts_rounding_exactly_10_percent_away() -> None:
    rounding = dosing.round_to_vials(grams=10.0, vial_sizes_g=(11.0,))
    # 11 is 1 g from 10 = 10%: allowed ("more than 10%" is refused).
    assert rounding.grams == 11.0
    assert rounding.rounded is True


def test_it_refuses_rounding_more_than_10_percent_away_and_says_so() -> None:
    rounding = dosing.round_to_vials(grams=1.2, vial_sizes_g=(5.0, 10.0, 20.0))
    # The nearest whole-vial amount is 5 g (zero vials is no dose): 3.8 g = 317% away.
    assert rounding.grams == 1.2
    assert rounding.exact_grams == 1.2
    assert rounding.rounded is False
    assert rounding.vials == (VialCount(5.0, 1),)
    assert rounding.warning is not None
    assert "1.2 g" in rounding.warning
    assert "5 g" in rounding.warning


def test_it_lists_the_least_covering_vials_when_rounding_is_refused() -> None:
    rounding = dosing.round_to_vials(grams=12.0, vial_sizes_g=(5.0, 20.0))
    # Nearest is 10 (2 g = 16.7% away): refused. The least amount covering 12 g is
    # 15 = 3 x 5 (3 g left over), not one 20 g vial (8 g left over).
    assert rounding.grams == 12.0
    assert rounding.vials == (VialCount(5.0, 3),)
    assert rounding.warning is not None
    assert "10 g" in rounding.warning


def test_it_puts_the_vial_warning_into_the_dose_warnings() -> None:
    result = dosing.calculate(
        dose(actual_weight_kg=10.0, dose_g_per_kg=0.12, days=1, vial_sizes_g=(5.0, 10.0))
    )
    # 0.12 x 10 = 1.2 g; 5 g is too far: the exact 1.2 g = 12 mL is given.
    assert result.grams_per_day == pytest.approx(1.2)
    assert result.volume_ml_per_day == pytest.approx(12.0)
    assert len(result.warnings) == 1
    assert "1.2 g" in result.warnings[0]


def test_it_warns_when_the_day_dose_is_above_1_g_per_kg() -> None:
    result = dosing.calculate(dose(dose_g_per_kg=2.0, days=1))
    # 2 g/kg in one day.
    assert result.warnings == ("The day dose 2 g/kg is above 1 g/kg.",)


def test_it_does_not_warn_at_exactly_1_g_per_kg_per_day() -> None:
    assert dosing.calculate(dose(dose_g_per_kg=2.0, days=2)).warnings == ()


@given(
    grams=st.floats(0.5, 400),
    sizes=st.sampled_from([OCTAGAM_VIALS, PANZYGA_VIALS, BIVIGAM_VIALS, (2.5, 5.0)]),
)
def test_it_rounds_within_10_percent_or_keeps_the_dose_and_covers_it(
    grams: float, sizes: tuple[float, ...]
) -> None:
    rounding = dosing.round_to_vials(grams=grams, vial_sizes_g=sizes)
    vial_total = sum(v.grams * v.count for v in rounding.vials)
    if rounding.rounded:
        assert abs(rounding.grams - grams) <= 0.1 * grams + 1e-9
        assert vial_total == pytest.approx(rounding.grams)
    else:
        assert rounding.grams == grams
        assert vial_total >= grams - 1e-9
        assert rounding.warning is not None


# --- Properties of the schedule ---------------------------------------------------

rates_st = st.floats(0.1, 16, allow_nan=False)
# Label ladders only go up, so the generated rates are sorted.
ladders = st.lists(st.tuples(rates_st, st.floats(1, 60)), max_size=8).map(
    lambda pairs: tuple(
        Step(rate, minutes)
        for rate, minutes in zip(sorted(p[0] for p in pairs), (p[1] for p in pairs), strict=True)
    )
)
weights = st.floats(5, 350)
volumes = st.floats(1, 3000)


@given(volume=volumes, ladder=ladders, max_rate=rates_st, weight=weights)
def test_it_adds_step_volumes_up_to_the_day_volume(
    volume: float, ladder: tuple[Step, ...], max_rate: float, weight: float
) -> None:
    schedule = dosing.infusion_schedule(
        volume_ml=volume, ladder=ladder, max_rate=max_rate, dosing_weight_kg=weight
    )
    delivered = math.fsum(s.rate_ml_per_hour * s.minutes / 60 for s in schedule)
    assert delivered == pytest.approx(volume, rel=1e-9)
    for before, after in itertools.pairwise(schedule):
        assert after.start_minute == pytest.approx(before.start_minute + before.minutes)


@given(volume=volumes, ladder=ladders, caps=st.lists(rates_st, min_size=2, max_size=2))
def test_it_never_shortens_the_infusion_when_the_cap_falls(
    volume: float, ladder: tuple[Step, ...], caps: list[float]
) -> None:
    low, high = sorted(caps)
    minutes = {
        cap: dosing.infusion_minutes(
            dosing.infusion_schedule(volume_ml=volume, ladder=ladder, max_rate=cap, dosing_weight_kg=70.0)
        )
        for cap in (low, high)
    }
    assert minutes[low] >= minutes[high] * (1 - 1e-9)


@given(ml_per_kg=st.floats(1, 30), ladder=ladders, max_rate=rates_st, a=weights, b=weights)
def test_it_takes_the_same_time_for_the_same_ml_per_kg_at_any_weight(
    ml_per_kg: float, ladder: tuple[Step, ...], max_rate: float, a: float, b: float
) -> None:
    def minutes(weight: float) -> float:
        return dosing.infusion_minutes(
            dosing.infusion_schedule(
                volume_ml=ml_per_kg * weight,
                ladder=ladder,
                max_rate=max_rate,
                dosing_weight_kg=weight,
            )
        )

    assert minutes(a) == pytest.approx(minutes(b), rel=1e-9)


@given(
    infusion=st.floats(0, 2000),
    before=st.integers(0, 120),
    after=st.integers(0, 120),
    slot=st.integers(1, 60),
)
def test_it_books_a_whole_number_of_slots_covering_the_visit(
    infusion: float, before: int, after: int, slot: int
) -> None:
    booked = dosing.chair_minutes(
        infusion_minutes=infusion,
        before_minutes=before,
        after_minutes=after,
        slot_minutes=slot,
    )
    total = before + infusion + after
    assert booked % slot == 0
    assert total - 1e-6 <= booked < total + slot


@given(ladder=ladders, max_rate=rates_st)
def test_it_never_plans_a_step_above_the_max(ladder: tuple[Step, ...], max_rate: float) -> None:
    steps = dosing.planned_steps(ladder=ladder, max_rate=max_rate)
    assert all(step.rate_mg_kg_min <= max_rate for step in steps)
    assert steps[-1] == Step(max_rate, None)
    assert all(step.minutes is not None for step in steps[:-1])
