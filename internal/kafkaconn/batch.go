package kafkaconn

import "hash/crc32"

// Offsets in a version 2 record batch (the Kafka protocol's RecordBatch),
// which ingest writes and the bridge reads.
const (
	BatchLengthAt          = 8  // int32: the bytes after this field
	BatchMagicAt           = 16 // int8: 2
	BatchCRCAt             = 17 // uint32: BatchCRC
	BatchAttributesAt      = 21 // int16: the compression codec in the low 3 bits, 0x20 a control batch
	BatchLastOffsetDeltaAt = 23 // int32
	BatchRecordsAt         = 57 // int32: how many records
	BatchHeaderBytes       = 61 // the records start here
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BatchCRC is the CRC-32C a record batch carries: of its bytes from the
// attributes on.
func BatchCRC(batch []byte) uint32 { return crc32.Checksum(batch[BatchAttributesAt:], castagnoli) }
