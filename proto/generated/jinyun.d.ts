import * as $protobuf from "protobufjs";
import Long = require("long");

export namespace jinyun {

    namespace v1 {

        interface IAck extends jinyun.v1.Ack.$Properties {
        }

        class Ack {
            constructor(properties?: jinyun.v1.Ack.$Properties);
            $unknowns?: Uint8Array[];
            producerId: string;
            epoch: (number|Long);
            seqFirst: (number|Long);
            count: number;
            result: jinyun.v1.AckResult;
            reason: string;
            reasonCode: string;
            static create(properties: jinyun.v1.Ack.$Shape): jinyun.v1.Ack & jinyun.v1.Ack.$Shape;
            static create(properties?: jinyun.v1.Ack.$Properties): jinyun.v1.Ack;
            static encode(message: jinyun.v1.Ack.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): jinyun.v1.Ack & jinyun.v1.Ack.$Shape;
            static fromObject(object: { [k: string]: any }): jinyun.v1.Ack;
            static toObject(message: jinyun.v1.Ack, options?: $protobuf.IConversionOptions): { [k: string]: any };
            toJSON(): { [k: string]: any };
        }

        namespace Ack {
            interface $Properties {
                producerId?: (string|null);
                epoch?: (number|Long|null);
                seqFirst?: (number|Long|null);
                count?: (number|null);
                result?: (jinyun.v1.AckResult|null);
                reason?: (string|null);
                reasonCode?: (string|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = jinyun.v1.Ack.$Properties;
        }

        enum AckResult {
            ACK_RESULT_UNSPECIFIED = 0,
            ACK_RESULT_OK = 1,
            ACK_RESULT_DUPLICATE = 2,
            ACK_RESULT_REJECTED = 3,
            ACK_RESULT_RETRY = 4
        }

        enum Compression {
            COMPRESSION_NONE = 0,
            COMPRESSION_DEFLATE = 1
        }

        interface IBatch extends jinyun.v1.Batch.$Properties {
        }

        class Batch {
            constructor(properties?: jinyun.v1.Batch.$Properties);
            $unknowns?: Uint8Array[];
            producerId: string;
            epoch: (number|Long);
            seqFirst: (number|Long);
            count: number;
            baseTimeMs: (number|Long);
            compression: jinyun.v1.Compression;
            body: Uint8Array;
            historical: boolean;
            sentTimeMs: (number|Long);
            bodyHash: number;
            static create(properties: jinyun.v1.Batch.$Shape): jinyun.v1.Batch & jinyun.v1.Batch.$Shape;
            static create(properties?: jinyun.v1.Batch.$Properties): jinyun.v1.Batch;
            static encode(message: jinyun.v1.Batch.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): jinyun.v1.Batch & jinyun.v1.Batch.$Shape;
            static fromObject(object: { [k: string]: any }): jinyun.v1.Batch;
            static toObject(message: jinyun.v1.Batch, options?: $protobuf.IConversionOptions): { [k: string]: any };
            toJSON(): { [k: string]: any };
        }

        namespace Batch {
            interface $Properties {
                producerId?: (string|null);
                epoch?: (number|Long|null);
                seqFirst?: (number|Long|null);
                count?: (number|null);
                baseTimeMs?: (number|Long|null);
                compression?: (jinyun.v1.Compression|null);
                body?: (Uint8Array|null);
                historical?: (boolean|null);
                sentTimeMs?: (number|Long|null);
                bodyHash?: (number|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = jinyun.v1.Batch.$Properties;
        }

        interface IBatchBody extends jinyun.v1.BatchBody.$Properties {
        }

        class BatchBody {
            constructor(properties?: jinyun.v1.BatchBody.$Properties);
            $unknowns?: Uint8Array[];
            series: jinyun.v1.Series.$Properties[];
            blocks: jinyun.v1.Block.$Properties[];
            static create(properties: jinyun.v1.BatchBody.$Shape): jinyun.v1.BatchBody & jinyun.v1.BatchBody.$Shape;
            static create(properties?: jinyun.v1.BatchBody.$Properties): jinyun.v1.BatchBody;
            static encode(message: jinyun.v1.BatchBody.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): jinyun.v1.BatchBody & jinyun.v1.BatchBody.$Shape;
            static fromObject(object: { [k: string]: any }): jinyun.v1.BatchBody;
            static toObject(message: jinyun.v1.BatchBody, options?: $protobuf.IConversionOptions): { [k: string]: any };
            toJSON(): { [k: string]: any };
        }

        namespace BatchBody {
            interface $Properties {
                series?: (jinyun.v1.Series.$Properties[]|null);
                blocks?: (jinyun.v1.Block.$Properties[]|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = jinyun.v1.BatchBody.$Properties;
        }

        interface IBlock extends jinyun.v1.Block.$Properties {
        }

        class Block {
            constructor(properties?: jinyun.v1.Block.$Properties);
            $unknowns?: Uint8Array[];
            seqOffset: number;
            timeOffsetMs: number;
            series: jinyun.v1.Series.$Properties[];
            static create(properties: jinyun.v1.Block.$Shape): jinyun.v1.Block & jinyun.v1.Block.$Shape;
            static create(properties?: jinyun.v1.Block.$Properties): jinyun.v1.Block;
            static encode(message: jinyun.v1.Block.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): jinyun.v1.Block & jinyun.v1.Block.$Shape;
            static fromObject(object: { [k: string]: any }): jinyun.v1.Block;
            static toObject(message: jinyun.v1.Block, options?: $protobuf.IConversionOptions): { [k: string]: any };
            toJSON(): { [k: string]: any };
        }

        namespace Block {
            interface $Properties {
                seqOffset?: (number|null);
                timeOffsetMs?: (number|null);
                series?: (jinyun.v1.Series.$Properties[]|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = jinyun.v1.Block.$Properties;
        }

        interface ISeries extends jinyun.v1.Series.$Properties {
        }

        class Series {
            constructor(properties?: jinyun.v1.Series.$Properties);
            $unknowns?: Uint8Array[];
            tagId: number;
            kind: jinyun.v1.ValueKind;
            seqDelta: number[];
            timeDeltaMs: number[];
            quality: number[];
            doubleValues: number[];
            intValues: (number|Long)[];
            boolValues: boolean[];
            stringValues: string[];
            uintValues: (number|Long)[];
            static create(properties: jinyun.v1.Series.$Shape): jinyun.v1.Series & jinyun.v1.Series.$Shape;
            static create(properties?: jinyun.v1.Series.$Properties): jinyun.v1.Series;
            static encode(message: jinyun.v1.Series.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): jinyun.v1.Series & jinyun.v1.Series.$Shape;
            static fromObject(object: { [k: string]: any }): jinyun.v1.Series;
            static toObject(message: jinyun.v1.Series, options?: $protobuf.IConversionOptions): { [k: string]: any };
            toJSON(): { [k: string]: any };
        }

        namespace Series {
            interface $Properties {
                tagId?: (number|null);
                kind?: (jinyun.v1.ValueKind|null);
                seqDelta?: (number[]|null);
                timeDeltaMs?: (number[]|null);
                quality?: (number[]|null);
                doubleValues?: (number[]|null);
                intValues?: ((number|Long)[]|null);
                boolValues?: (boolean[]|null);
                stringValues?: (string[]|null);
                uintValues?: ((number|Long)[]|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = jinyun.v1.Series.$Properties;
        }

        enum ValueKind {
            VALUE_KIND_DOUBLE = 0,
            VALUE_KIND_INT64 = 1,
            VALUE_KIND_BOOL = 2,
            VALUE_KIND_STRING = 3,
            VALUE_KIND_UINT64 = 4
        }

        interface ICatalog extends jinyun.v1.Catalog.$Properties {
        }

        class Catalog {
            constructor(properties?: jinyun.v1.Catalog.$Properties);
            $unknowns?: Uint8Array[];
            producerId: string;
            version: (number|Long);
            tags: jinyun.v1.TagInfo.$Properties[];
            devices: jinyun.v1.DeviceInfo.$Properties[];
            static create(properties: jinyun.v1.Catalog.$Shape): jinyun.v1.Catalog & jinyun.v1.Catalog.$Shape;
            static create(properties?: jinyun.v1.Catalog.$Properties): jinyun.v1.Catalog;
            static encode(message: jinyun.v1.Catalog.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): jinyun.v1.Catalog & jinyun.v1.Catalog.$Shape;
            static fromObject(object: { [k: string]: any }): jinyun.v1.Catalog;
            static toObject(message: jinyun.v1.Catalog, options?: $protobuf.IConversionOptions): { [k: string]: any };
            toJSON(): { [k: string]: any };
        }

        namespace Catalog {
            interface $Properties {
                producerId?: (string|null);
                version?: (number|Long|null);
                tags?: (jinyun.v1.TagInfo.$Properties[]|null);
                devices?: (jinyun.v1.DeviceInfo.$Properties[]|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = jinyun.v1.Catalog.$Properties;
        }

        interface ITagInfo extends jinyun.v1.TagInfo.$Properties {
        }

        class TagInfo {
            constructor(properties?: jinyun.v1.TagInfo.$Properties);
            $unknowns?: Uint8Array[];
            id: number;
            key: string;
            device: string;
            unit: string;
            dataType: string;
            description: string;
            static create(properties: jinyun.v1.TagInfo.$Shape): jinyun.v1.TagInfo & jinyun.v1.TagInfo.$Shape;
            static create(properties?: jinyun.v1.TagInfo.$Properties): jinyun.v1.TagInfo;
            static encode(message: jinyun.v1.TagInfo.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): jinyun.v1.TagInfo & jinyun.v1.TagInfo.$Shape;
            static fromObject(object: { [k: string]: any }): jinyun.v1.TagInfo;
            static toObject(message: jinyun.v1.TagInfo, options?: $protobuf.IConversionOptions): { [k: string]: any };
            toJSON(): { [k: string]: any };
        }

        namespace TagInfo {
            interface $Properties {
                id?: (number|null);
                key?: (string|null);
                device?: (string|null);
                unit?: (string|null);
                dataType?: (string|null);
                description?: (string|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = jinyun.v1.TagInfo.$Properties;
        }

        interface IDeviceInfo extends jinyun.v1.DeviceInfo.$Properties {
        }

        class DeviceInfo {
            constructor(properties?: jinyun.v1.DeviceInfo.$Properties);
            $unknowns?: Uint8Array[];
            name: string;
            driver: string;
            endpoint: string;
            static create(properties: jinyun.v1.DeviceInfo.$Shape): jinyun.v1.DeviceInfo & jinyun.v1.DeviceInfo.$Shape;
            static create(properties?: jinyun.v1.DeviceInfo.$Properties): jinyun.v1.DeviceInfo;
            static encode(message: jinyun.v1.DeviceInfo.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): jinyun.v1.DeviceInfo & jinyun.v1.DeviceInfo.$Shape;
            static fromObject(object: { [k: string]: any }): jinyun.v1.DeviceInfo;
            static toObject(message: jinyun.v1.DeviceInfo, options?: $protobuf.IConversionOptions): { [k: string]: any };
            toJSON(): { [k: string]: any };
        }

        namespace DeviceInfo {
            interface $Properties {
                name?: (string|null);
                driver?: (string|null);
                endpoint?: (string|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = jinyun.v1.DeviceInfo.$Properties;
        }

        interface IStatus extends jinyun.v1.Status.$Properties {
        }

        class Status {
            constructor(properties?: jinyun.v1.Status.$Properties);
            $unknowns?: Uint8Array[];
            online: boolean;
            producerId: string;
            epoch: (number|Long);
            timeMs: (number|Long);
            version: string;
            static create(properties: jinyun.v1.Status.$Shape): jinyun.v1.Status & jinyun.v1.Status.$Shape;
            static create(properties?: jinyun.v1.Status.$Properties): jinyun.v1.Status;
            static encode(message: jinyun.v1.Status.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): jinyun.v1.Status & jinyun.v1.Status.$Shape;
            static fromObject(object: { [k: string]: any }): jinyun.v1.Status;
            static toObject(message: jinyun.v1.Status, options?: $protobuf.IConversionOptions): { [k: string]: any };
            toJSON(): { [k: string]: any };
        }

        namespace Status {
            interface $Properties {
                online?: (boolean|null);
                producerId?: (string|null);
                epoch?: (number|Long|null);
                timeMs?: (number|Long|null);
                version?: (string|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = jinyun.v1.Status.$Properties;
        }

        interface IHealth extends jinyun.v1.Health.$Properties {
        }

        class Health {
            constructor(properties?: jinyun.v1.Health.$Properties);
            $unknowns?: Uint8Array[];
            timeMs: (number|Long);
            uptimeS: (number|Long);
            spoolDepth: (number|Long);
            spoolOldestAgeMs: (number|Long);
            dropped: (number|Long);
            ackedBatches: (number|Long);
            ackedReadings: (number|Long);
            devices: jinyun.v1.DeviceHealth.$Properties[];
            rssBytes: (number|Long);
            status: jinyun.v1.GatewayStatus;
            reasons: string[];
            appended: (number|Long);
            quarantined: (number|Long);
            spoolSealedBatches: number;
            sentBatches: (number|Long);
            resentBatches: (number|Long);
            ackTimeouts: (number|Long);
            sentBatchesPerS: number;
            ackedReadingsPerS: number;
            appendedReadingsPerS: number;
            cpuPercent: number;
            cpuTotalMs: (number|Long);
            heapUsedBytes: (number|Long);
            systemFreeMemoryBytes: (number|Long);
            diskFreeBytes: (number|Long);
            diskTotalBytes: (number|Long);
            spoolFileBytes: (number|Long);
            clockState: jinyun.v1.ClockState;
            clockJumpMs: (number|Long);
            linkConnects: (number|Long);
            linkDisconnects: (number|Long);
            static create(properties: jinyun.v1.Health.$Shape): jinyun.v1.Health & jinyun.v1.Health.$Shape;
            static create(properties?: jinyun.v1.Health.$Properties): jinyun.v1.Health;
            static encode(message: jinyun.v1.Health.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): jinyun.v1.Health & jinyun.v1.Health.$Shape;
            static fromObject(object: { [k: string]: any }): jinyun.v1.Health;
            static toObject(message: jinyun.v1.Health, options?: $protobuf.IConversionOptions): { [k: string]: any };
            toJSON(): { [k: string]: any };
        }

        namespace Health {
            interface $Properties {
                timeMs?: (number|Long|null);
                uptimeS?: (number|Long|null);
                spoolDepth?: (number|Long|null);
                spoolOldestAgeMs?: (number|Long|null);
                dropped?: (number|Long|null);
                ackedBatches?: (number|Long|null);
                ackedReadings?: (number|Long|null);
                devices?: (jinyun.v1.DeviceHealth.$Properties[]|null);
                rssBytes?: (number|Long|null);
                status?: (jinyun.v1.GatewayStatus|null);
                reasons?: (string[]|null);
                appended?: (number|Long|null);
                quarantined?: (number|Long|null);
                spoolSealedBatches?: (number|null);
                sentBatches?: (number|Long|null);
                resentBatches?: (number|Long|null);
                ackTimeouts?: (number|Long|null);
                sentBatchesPerS?: (number|null);
                ackedReadingsPerS?: (number|null);
                appendedReadingsPerS?: (number|null);
                cpuPercent?: (number|null);
                cpuTotalMs?: (number|Long|null);
                heapUsedBytes?: (number|Long|null);
                systemFreeMemoryBytes?: (number|Long|null);
                diskFreeBytes?: (number|Long|null);
                diskTotalBytes?: (number|Long|null);
                spoolFileBytes?: (number|Long|null);
                clockState?: (jinyun.v1.ClockState|null);
                clockJumpMs?: (number|Long|null);
                linkConnects?: (number|Long|null);
                linkDisconnects?: (number|Long|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = jinyun.v1.Health.$Properties;
        }

        enum GatewayStatus {
            GATEWAY_STATUS_UNSPECIFIED = 0,
            GATEWAY_STATUS_OK = 1,
            GATEWAY_STATUS_DEGRADED = 2,
            GATEWAY_STATUS_ERROR = 3
        }

        enum ClockState {
            CLOCK_STATE_UNKNOWN = 0,
            CLOCK_STATE_SYNCED = 1,
            CLOCK_STATE_UNSYNCED = 2
        }

        interface IDeviceHealth extends jinyun.v1.DeviceHealth.$Properties {
        }

        class DeviceHealth {
            constructor(properties?: jinyun.v1.DeviceHealth.$Properties);
            $unknowns?: Uint8Array[];
            name: string;
            state: jinyun.v1.DeviceState;
            lastGoodMs: (number|Long);
            consecutiveErrors: number;
            reads: (number|Long);
            errors: (number|Long);
            lastRttMs: number;
            lastError: string;
            errorsByKind: { [k: string]: (number|Long) };
            pollCycles: (number|Long);
            pollOverruns: (number|Long);
            readings: (number|Long);
            static create(properties: jinyun.v1.DeviceHealth.$Shape): jinyun.v1.DeviceHealth & jinyun.v1.DeviceHealth.$Shape;
            static create(properties?: jinyun.v1.DeviceHealth.$Properties): jinyun.v1.DeviceHealth;
            static encode(message: jinyun.v1.DeviceHealth.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): jinyun.v1.DeviceHealth & jinyun.v1.DeviceHealth.$Shape;
            static fromObject(object: { [k: string]: any }): jinyun.v1.DeviceHealth;
            static toObject(message: jinyun.v1.DeviceHealth, options?: $protobuf.IConversionOptions): { [k: string]: any };
            toJSON(): { [k: string]: any };
        }

        namespace DeviceHealth {
            interface $Properties {
                name?: (string|null);
                state?: (jinyun.v1.DeviceState|null);
                lastGoodMs?: (number|Long|null);
                consecutiveErrors?: (number|null);
                reads?: (number|Long|null);
                errors?: (number|Long|null);
                lastRttMs?: (number|null);
                lastError?: (string|null);
                errorsByKind?: ({ [k: string]: (number|Long) }|null);
                pollCycles?: (number|Long|null);
                pollOverruns?: (number|Long|null);
                readings?: (number|Long|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = jinyun.v1.DeviceHealth.$Properties;
        }

        enum DeviceState {
            DEVICE_STATE_UNKNOWN = 0,
            DEVICE_STATE_OK = 1,
            DEVICE_STATE_DEGRADED = 2,
            DEVICE_STATE_DOWN = 3
        }
    }
}
