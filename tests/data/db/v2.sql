-- A feedsvc database at schema version 2 (commit 15854ce), made by that version's
-- store.py from v1.sql (upgraded in place) plus a source state and a failed article, and
-- dumped with sqlite3's iterdump(). The upgrade test replays it into a fresh file.
BEGIN TRANSACTION;
CREATE TABLE article_events (
	id INTEGER NOT NULL, 
	article_id VARCHAR(200) NOT NULL, 
	action VARCHAR(20) NOT NULL, 
	actor VARCHAR(200) NOT NULL, 
	reason TEXT NOT NULL, 
	at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE article_failures (
	article_id VARCHAR(200) NOT NULL, 
	source VARCHAR(100) NOT NULL, 
	url TEXT NOT NULL, 
	ref TEXT NOT NULL, 
	attempts INTEGER NOT NULL, 
	first_failed DATETIME NOT NULL, 
	last_failed DATETIME NOT NULL, 
	last_error TEXT NOT NULL, 
	next_retry DATETIME, 
	PRIMARY KEY (article_id)
);
INSERT INTO "article_failures" VALUES('tag:baohoabinh.com.vn,2006:170100','baohoabinh','https://baohoabinh.com.vn/11/170100/Bai-loi.htm','{"source": "baohoabinh", "id": "tag:baohoabinh.com.vn,2006:170100", "url": "https://baohoabinh.com.vn/11/170100/Bai-loi.htm", "section": "chinh-tri", "title": "Bài lỗi", "lead": null, "thumbnail": null, "published": null}',1,'2024-05-06 04:00:00.000000','2024-05-06 04:00:00.000000','https://baohoabinh.com.vn/11/170100/Bai-loi.htm: HTTP 500','2024-05-06 04:05:00.000000');
CREATE TABLE article_places (
	article_id VARCHAR(200) NOT NULL, 
	district VARCHAR(100) NOT NULL, 
	field VARCHAR(20) NOT NULL, 
	phrase TEXT NOT NULL, 
	unit TEXT, 
	published DATETIME NOT NULL, 
	hidden BOOLEAN NOT NULL, 
	PRIMARY KEY (article_id, district, field), 
	FOREIGN KEY(article_id) REFERENCES articles (id)
);
INSERT INTO "article_places" VALUES('tag:baohoabinh.com.vn,2006:169105','mai-chau','title','xã Vạn Mai (Mai Châu)','Vạn Mai','2024-05-06 02:00:00.000000',0);
INSERT INTO "article_places" VALUES('tag:baohoabinh.com.vn,2006:170053','cao-phong','title','Cao Phong',NULL,'2024-05-06 03:00:00.000000',0);
CREATE TABLE articles (
	id VARCHAR(200) NOT NULL, 
	source VARCHAR(100) NOT NULL, 
	url TEXT NOT NULL, 
	title TEXT NOT NULL, 
	summary TEXT NOT NULL, 
	content_html TEXT NOT NULL, 
	author TEXT, 
	section VARCHAR(100), 
	image TEXT, 
	image_caption TEXT, 
	published DATETIME NOT NULL, 
	updated DATETIME NOT NULL, 
	date_source VARCHAR(20) NOT NULL, 
	first_seen DATETIME NOT NULL, 
	last_fetched DATETIME NOT NULL, 
	content_hash VARCHAR(64) NOT NULL, 
	hidden BOOLEAN NOT NULL, hidden_reason VARCHAR(20), 
	PRIMARY KEY (id)
);
INSERT INTO "articles" VALUES('tag:baohoabinh.com.vn,2006:169105','baohoabinh','https://baohoabinh.com.vn/11/169105/bai-169105.htm','CB-CC xã Vạn Mai (Mai Châu) đổi mới cách làm, phục vụ nhân dân tốt hơn','Tóm tắt: CB-CC xã Vạn Mai (Mai Châu) đổi mới cách làm, phục vụ nhân dân tốt hơn','<p>CB-CC xã Vạn Mai (Mai Châu) đổi mới cách làm, phục vụ nhân dân tốt hơn.</p>','Bình Giang','chinh-tri',NULL,NULL,'2024-05-06 02:00:00.000000','2024-05-06 02:00:00.000000','page','2024-05-06 05:00:00.000000','2024-05-06 05:00:00.000000','4e6cd532caa58a9c1b1ad89b33b07642393ff9adf3c16d99a57494c7bda49e3f',0,NULL);
INSERT INTO "articles" VALUES('tag:baohoabinh.com.vn,2006:170053','baohoabinh','https://baohoabinh.com.vn/11/170053/bai-170053.htm','Nông dân Cao Phong cải tạo vườn cam theo hướng hữu cơ','Tóm tắt: Nông dân Cao Phong cải tạo vườn cam theo hướng hữu cơ','<p>Nông dân Cao Phong cải tạo vườn cam theo hướng hữu cơ.</p>','Bình Giang','kinh-te',NULL,NULL,'2024-05-06 03:00:00.000000','2024-05-06 03:00:00.000000','page','2024-05-06 05:00:00.000000','2024-05-06 05:00:00.000000','5380a46efd87e6b52120f81aea24e260071d71afc49304f9756ad336f15fab3e',0,NULL);
INSERT INTO "articles" VALUES('tag:baohoabinh.com.vn,2006:171701','baohoabinh','https://baohoabinh.com.vn/11/171701/bai-171701.htm','Điền kinh Hòa Bình giành 4 huy chương tại Giải vô địch trẻ quốc gia','Tóm tắt: Điền kinh Hòa Bình giành 4 huy chương tại Giải vô địch trẻ quốc gia','<p>Điền kinh Hòa Bình giành 4 huy chương tại Giải vô địch trẻ quốc gia.</p>','Bình Giang','the-thao',NULL,NULL,'2024-05-06 04:00:00.000000','2024-05-06 04:00:00.000000','page','2024-05-06 05:00:00.000000','2024-05-06 05:00:00.000000','98e550f60d1409afec70f6abba7fca9eea34c3317f8801d1d949af3defaaf2a9',1,'newsroom');
CREATE TABLE leases (
	name VARCHAR(50) NOT NULL, 
	owner VARCHAR(200) NOT NULL, 
	acquired_at DATETIME NOT NULL, 
	renewed_at DATETIME NOT NULL, 
	expires_at DATETIME NOT NULL, 
	PRIMARY KEY (name)
);
CREATE TABLE meta (
	"key" VARCHAR(100) NOT NULL, 
	value TEXT NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO "meta" VALUES('schema_version','2');
INSERT INTO "meta" VALUES('data_version','4');
CREATE TABLE source_state (
	source VARCHAR(100) NOT NULL, 
	last_attempt DATETIME, 
	last_finished DATETIME, 
	last_success DATETIME, 
	last_error TEXT, 
	last_error_at DATETIME, 
	consecutive_failures INTEGER NOT NULL, 
	next_attempt DATETIME, 
	broken TEXT, 
	parse_failure_streak INTEGER NOT NULL, 
	last_seen INTEGER NOT NULL, 
	last_new INTEGER NOT NULL, 
	last_updated INTEGER NOT NULL, 
	last_unchanged INTEGER NOT NULL, 
	last_failed INTEGER NOT NULL, 
	last_gone INTEGER NOT NULL, 
	last_duration_s FLOAT, 
	runs_total INTEGER NOT NULL, 
	failed_runs_total INTEGER NOT NULL, 
	new_total INTEGER NOT NULL, 
	updated_total INTEGER NOT NULL, 
	failed_total INTEGER NOT NULL, 
	gone_total INTEGER NOT NULL, 
	PRIMARY KEY (source)
);
INSERT INTO "source_state" VALUES('baohoabinh','2024-05-06 04:00:00.000000','2024-05-06 04:00:00.000000','2024-05-06 04:00:00.000000',NULL,NULL,0,NULL,NULL,0,3,0,0,3,0,0,NULL,3,0,3,0,0,0);
CREATE INDEX ix_articles_section_published ON articles (section, published, id);
CREATE INDEX ix_articles_published ON articles (published, id);
CREATE INDEX ix_places_district_published ON article_places (district, published, article_id);
CREATE INDEX ix_failures_source_retry ON article_failures (source, next_retry);
CREATE INDEX ix_events_article ON article_events (article_id, at);
CREATE INDEX ix_articles_source_fetched ON articles (source, last_fetched);
COMMIT;
