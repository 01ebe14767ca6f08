-- Picks this client's next (participant, day) so that every attempt of a run is a fresh one:
-- the run's k-th attempt (k counts over all clients) goes to participant 1 + k * 48271 mod
-- :participants on day :base_day + k / :participants. 48271 is a prime, so while k stays below
-- :participants every participant is picked once, in an order scattered over the table (and over
-- the unit tree and the totals slots) as real arrivals would be; after that, the next day begins.
-- Variables given with -D: n (0, this client's attempts so far, kept between runs of the
-- script), clients, participants, base_day.
\set n :n + 1
\set k (:n - 1) * :clients + :client_id
\set participant 1 + (:k * 48271) % :participants
\set day :base_day + :k / :participants
