//! A channel's posting slots (issue 57): weekly times, each a weekday and a local time in
//! the channel's zone, which its queue fills in order. A slot's instant is its local time on
//! that day: a time a clock change skips is taken at the first moment after the gap, a time
//! it repeats at its first occurrence.

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde_json::{Value, json};

/// The most slots a channel has (one an hour, every hour of the week).
pub const SLOTS_MAX: usize = 168;

/// One weekly slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub weekday: Weekday,
    pub time: NaiveTime,
}

/// A channel's slots, sorted by weekday (Monday first) and time, without repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slots {
    pub timezone: Tz,
    slots: Vec<Slot>,
}

impl Slots {
    pub fn new(timezone: Tz, mut slots: Vec<Slot>) -> Self {
        slots.sort_by_key(|slot| (slot.weekday.num_days_from_monday(), slot.time));
        slots.dedup();
        Self { timezone, slots }
    }

    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// The slots as a channel keeps them: `[{"weekday": "mon", "time": "09:00"}]`.
    pub fn stored(&self) -> Value {
        let slots = self.slots.iter().map(|slot| {
            json!({ "weekday": slot.weekday.to_string().to_lowercase(),
                "time": slot.time.format("%H:%M").to_string() })
        });
        Value::Array(slots.collect())
    }

    /// The slots a channel keeps (`timezone` and [`Slots::stored`]'s form); `None` when they
    /// do not read as such.
    pub fn from_stored(timezone: &str, stored: &Value) -> Option<Self> {
        let timezone = timezone.parse::<Tz>().ok()?;
        let slots = stored
            .as_array()?
            .iter()
            .map(|slot| {
                Some(Slot {
                    weekday: slot["weekday"].as_str()?.parse().ok()?,
                    time: NaiveTime::parse_from_str(slot["time"].as_str()?, "%H:%M").ok()?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self::new(timezone, slots))
    }

    /// The slots' instants after `after`, in order (none when there are no slots).
    pub fn after(&self, after: DateTime<Utc>) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        let first = after.with_timezone(&self.timezone).date_naive();
        let days = (0..).map_while(move |n| first.checked_add_days(Days::new(n)));
        days.take_while(|_| !self.slots.is_empty())
            .flat_map(move |day| {
                self.slots
                    .iter()
                    .filter(move |slot| slot.weekday == day.weekday())
                    .filter_map(move |slot| self.instant(day, slot.time))
            })
            .filter(move |at| *at > after)
    }

    /// Where `count` entries queued after `last` go (`last`: the channel's last queued
    /// entry, else now): the slots after it in order, each at least `gap` after the one
    /// before (and after `last`), never one already `taken`. Fewer when the channel has no
    /// slots.
    pub fn place(
        &self,
        last: DateTime<Utc>,
        taken: &[DateTime<Utc>],
        gap: chrono::Duration,
        count: usize,
    ) -> Vec<DateTime<Utc>> {
        self.place_within(last, taken, gap, count, |_| true)
    }

    /// [`Slots::place`], skipping the slots `fits` refuses (a platform's quota full then);
    /// `fits` is asked of each slot once, in order, and takes the place when it answers
    /// yes.
    pub fn place_within(
        &self,
        last: DateTime<Utc>,
        taken: &[DateTime<Utc>],
        gap: chrono::Duration,
        count: usize,
        mut fits: impl FnMut(DateTime<Utc>) -> bool,
    ) -> Vec<DateTime<Utc>> {
        let mut placed: Vec<DateTime<Utc>> = Vec::with_capacity(count);
        // Enough slots to place them all whatever is taken and however wide the gap (a gap
        // of weeks skips a week's slots for each); never an endless search.
        let weeks_a_gap = usize::try_from(gap.num_weeks()).unwrap_or(0) + 1;
        // Eight weeks more, for the slots a full quota turns away.
        let enough = (count + taken.len() + 9) * self.slots.len() * weeks_a_gap;
        for at in self.after(last).take(enough) {
            if placed.len() == count {
                break;
            }
            let previous = placed.last().copied().unwrap_or(last);
            if at - previous >= gap && !taken.contains(&at) && fits(at) {
                placed.push(at);
            }
        }
        placed
    }

    /// `time` on `day` in the zone: its first occurrence, or the end of a gap it falls in.
    fn instant(&self, day: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
        let local = day.and_time(time);
        let at = self
            .timezone
            .from_local_datetime(&local)
            .earliest()
            .or_else(|| {
                // Skipped by a clock going forward: the first minute that exists after it.
                (1..=180).find_map(|minutes| {
                    let later = local + chrono::Duration::minutes(minutes);
                    self.timezone.from_local_datetime(&later).earliest()
                })
            })?;
        Some(at.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(weekday: Weekday, time: &str) -> Slot {
        Slot {
            weekday,
            time: NaiveTime::parse_from_str(time, "%H:%M").unwrap(),
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn slots_are_sorted_from_monday_and_kept_once() {
        let slots = Slots::new(
            chrono_tz::UTC,
            vec![
                slot(Weekday::Sun, "08:00"),
                slot(Weekday::Mon, "17:00"),
                slot(Weekday::Mon, "09:00"),
                slot(Weekday::Mon, "09:00"),
            ],
        );
        assert_eq!(
            slots.slots(),
            [
                slot(Weekday::Mon, "09:00"),
                slot(Weekday::Mon, "17:00"),
                slot(Weekday::Sun, "08:00"),
            ]
        );
    }

    #[test]
    fn slots_read_back_as_they_are_kept() {
        let slots = Slots::new(
            chrono_tz::Europe::Madrid,
            vec![slot(Weekday::Fri, "18:30"), slot(Weekday::Tue, "07:05")],
        );
        let kept = slots.stored();
        assert_eq!(
            kept,
            json!([{ "weekday": "tue", "time": "07:05" }, { "weekday": "fri", "time": "18:30" }])
        );
        assert_eq!(Slots::from_stored("Europe/Madrid", &kept), Some(slots));
        assert_eq!(Slots::from_stored("Mars/Olympus", &kept), None);
    }

    #[test]
    fn twenty_slots_follow_each_other_across_a_clock_change() {
        // Madrid goes from UTC+1 to UTC+2 on Sunday 31 March 2030.
        let slots = Slots::new(
            chrono_tz::Europe::Madrid,
            vec![
                slot(Weekday::Mon, "09:00"),
                slot(Weekday::Wed, "09:00"),
                slot(Weekday::Fri, "09:00"),
            ],
        );
        let next: Vec<_> = slots.after(at("2030-03-18T08:00:00Z")).take(20).collect();
        assert_eq!(next.len(), 20);
        assert_eq!(
            next[0],
            at("2030-03-20T08:00:00Z"),
            "after the Monday slot itself"
        );
        assert_eq!(next[3], at("2030-03-27T08:00:00Z"));
        assert_eq!(
            next[4],
            at("2030-03-29T08:00:00Z"),
            "the last in winter time"
        );
        assert_eq!(next[5], at("2030-04-01T07:00:00Z"), "09:00 in summer time");
        assert!(next.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(next[19], at("2030-05-03T07:00:00Z"));
    }

    #[test]
    fn queued_entries_take_the_next_free_slots_a_gap_apart() {
        let slots = Slots::new(
            chrono_tz::Europe::Madrid,
            vec![
                slot(Weekday::Mon, "09:00"),
                slot(Weekday::Mon, "09:15"),
                slot(Weekday::Wed, "09:00"),
                slot(Weekday::Fri, "09:00"),
            ],
        );
        let gap = chrono::Duration::minutes(30);
        // After the last queued entry (Monday 09:00): Monday 09:15 is too close; Wednesday
        // is taken by an entry placed by hand.
        let taken = [at("2030-03-20T08:00:00Z")];
        let placed = slots.place(at("2030-03-18T08:00:00Z"), &taken, gap, 3);
        assert_eq!(
            placed,
            [
                at("2030-03-22T08:00:00Z"),
                at("2030-03-25T08:00:00Z"),
                at("2030-03-27T08:00:00Z"),
            ]
        );
        // Monday 09:00 and 09:15 are both free after a Sunday start, but 15 minutes apart:
        // one of them only.
        let placed = slots.place(at("2030-03-24T12:00:00Z"), &[], gap, 2);
        assert_eq!(
            placed,
            [at("2030-03-25T08:00:00Z"), at("2030-03-27T08:00:00Z")]
        );
        assert!(
            Slots::new(chrono_tz::UTC, Vec::new())
                .place(at("2030-03-24T12:00:00Z"), &[], gap, 2)
                .is_empty()
        );
    }

    #[test]
    fn a_slot_in_a_skipped_hour_is_at_its_end_and_no_slots_is_none() {
        let slots = Slots::new(chrono_tz::Europe::Madrid, vec![slot(Weekday::Sun, "02:30")]);
        // 02:00 to 03:00 does not exist on 31 March 2030: the slot is at 03:00, UTC+2.
        let next = slots.after(at("2030-03-30T00:00:00Z")).next();
        assert_eq!(next, Some(at("2030-03-31T01:00:00Z")));
        let none = Slots::new(chrono_tz::UTC, Vec::new());
        assert_eq!(none.after(at("2030-03-30T00:00:00Z")).next(), None);
    }
}
