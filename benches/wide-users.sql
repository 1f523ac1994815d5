-- Widen the demo's all_users rows into realistic wide rows for the speed benchmarks: names and
-- facilities become long non-ASCII texts (up to 300 characters), NULLs stay NULL, and the
-- lengths vary from row to row. Deterministic (a function of the id), so every machine gets the
-- same table. Applied by benches/common.sh (wide_users_db) with the sqlite3 CLI.
.bail on
CREATE TEMP TABLE filler(t TEXT);
INSERT INTO filler VALUES (
  'Zoë Ødegård-Łukasiewicz, Résidence Saint-Étienne, Außenstelle Nürnberg-Fürth, ' ||
  'Ñandú Peñalosa, Çağrı Şahin, Ελένη Παπαδοπούλου, Дмитрий Соколов, 山田 太郎, ' ||
  'Unit 4B «Les Hêtres» — Kløvervænget 12, São João da Madeira, Łódź ul. Piotrkowska 104, ' ||
  'Håkon Æsir, Ævar Þórsson, Jürgen Groß, Frédérique d''Orléans, Małgorzata Wójcik, ' ||
  'Pflegeheim Sonnenhof, Clínica Santa María, Maison de retraite «Les Tilleuls», ' ||
  'Hôpital Hôtel-Dieu, Sjúkrahús Akureyri, Οίκος Ευγηρίας, Дом престарелых №3, ' ||
  'Kōbe Ōsaka 老人ホーム, end.'
);
UPDATE all_users SET
  name = CASE WHEN name IS NULL THEN NULL
              ELSE substr(name || ' · ' || (SELECT t FROM filler), 1, 20 + (id * 7919) % 281) END,
  facility = CASE WHEN facility IS NULL THEN NULL
                  ELSE substr(facility || ' / ' || substr((SELECT t FROM filler), 1 + (id * 31) % 97), 1, 12 + (id * 104729) % 289) END;
DROP TABLE filler;
VACUUM;
