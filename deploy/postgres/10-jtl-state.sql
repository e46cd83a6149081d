-- Run once by the postgres image on its first start (compose.yaml): the state database beside Prefect's.
CREATE DATABASE jtl_state;
