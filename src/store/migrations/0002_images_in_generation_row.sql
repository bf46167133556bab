-- 0002: a generation's images in its own row.
--
-- A generation's images are written once, with it, and always read with
-- it; as rows of their own they cost three more b-tree writes per image
-- (the table, its primary key, images_by_blob) and the foreign-key checks,
-- about a third of the cost of recording a generation. They become a JSON
-- array in the generation's row, in image order: [{"sha256": "...",
-- "seed": 42}, ...] (seed null when there is none, as -1 was before); a blob's
-- format, size and dimensions stay in blobs. Which generations use a blob
-- is a scan: SELECT g.id FROM generations g, json_each(g.images) j
-- WHERE j.value ->> 'sha256' = ?.
ALTER TABLE generations ADD COLUMN images TEXT NOT NULL DEFAULT '[]';
UPDATE generations SET images = (
    SELECT json_group_array(json_object('sha256', i.sha256,
                                        'seed', iif(i.seed >= 0, i.seed, NULL)))
    FROM (SELECT sha256, seed FROM images
          WHERE generation_id = generations.id ORDER BY idx) AS i)
WHERE id IN (SELECT generation_id FROM images);
DROP INDEX images_by_blob;
DROP TABLE images;
