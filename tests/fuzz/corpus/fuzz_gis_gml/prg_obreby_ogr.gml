<?xml version="1.0" encoding="utf-8" ?>
<ogr:FeatureCollection
     gml:id="aFeatureCollection"
     xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
     xsi:schemaLocation="http://ogr.maptools.org/ prg_obreby_226401_1_ogr.xsd"
     xmlns:ogr="http://ogr.maptools.org/"
     xmlns:gml="http://www.opengis.net/gml/3.2">
  <gml:boundedBy><gml:Envelope srsName="urn:ogc:def:crs:EPSG::2180"><gml:lowerCorner>729850.12 470612.4</gml:lowerCorner><gml:upperCorner>732410.88 472955.61</gml:upperCorner></gml:Envelope></gml:boundedBy>
                                                                                                                                                                     
  <ogr:featureMember>
    <ogr:obreby gml:id="obreby.0">
      <gml:boundedBy><gml:Envelope srsName="urn:ogc:def:crs:EPSG::2180"><gml:lowerCorner>731120.5 471204.33</gml:lowerCorner><gml:upperCorner>732410.88 472955.61</gml:upperCorner></gml:Envelope></gml:boundedBy>
      <ogr:geometryProperty><gml:MultiSurface srsName="urn:ogc:def:crs:EPSG::2180" gml:id="obreby.geom.0"><gml:surfaceMember><gml:Polygon gml:id="obreby.geom.0.0"><gml:exterior><gml:LinearRing><gml:posList>732410.88 471204.33 732398.1 472955.61 731120.5 472901.07 731133.27 471260.9 732410.88 471204.33</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon></gml:surfaceMember></gml:MultiSurface></ogr:geometryProperty>
      <ogr:JPT_SJR_KO>OBR</ogr:JPT_SJR_KO>
      <ogr:JPT_POWIER>218</ogr:JPT_POWIER>
      <ogr:JPT_KOD_JE>226401_1.0024</ogr:JPT_KOD_JE>
      <ogr:JPT_NAZWA_>Sopot 0024</ogr:JPT_NAZWA_>
      <ogr:JPT_ORGAN_>NZN</ogr:JPT_ORGAN_>
      <ogr:JPT_JOR_ID>0</ogr:JPT_JOR_ID>
      <ogr:WERSJA_OD>2012-09-26</ogr:WERSJA_OD>
      <ogr:WAZNY_OD>2012-09-26</ogr:WAZNY_OD>
      <ogr:IIP_PRZEST>PL.PZGIK.200</ogr:IIP_PRZEST>
      <ogr:IIP_IDENTY>a3c3b6a6-1a0c-4c3e-9d0e-3f1f2b7e0024</ogr:IIP_IDENTY>
      <ogr:IIP_WERSJA>2012-09-27T08:06:38+02:00</ogr:IIP_WERSJA>
      <ogr:JPT_KJ_IIP>EGIB</ogr:JPT_KJ_IIP>
      <ogr:JPT_KJ_I_1>226401_1.0024</ogr:JPT_KJ_I_1>
      <ogr:JPT_ID>1370248</ogr:JPT_ID>
      <ogr:Shape_Leng>6795.21</ogr:Shape_Leng>
      <ogr:Shape_Area>2180652.93</ogr:Shape_Area>
    </ogr:obreby>
  </ogr:featureMember>
  <ogr:featureMember>
    <ogr:obreby gml:id="obreby.1">
      <gml:boundedBy><gml:Envelope srsName="urn:ogc:def:crs:EPSG::2180"><gml:lowerCorner>729850.12 470612.4</gml:lowerCorner><gml:upperCorner>731133.27 471915.02</gml:upperCorner></gml:Envelope></gml:boundedBy>
      <ogr:geometryProperty><gml:MultiSurface srsName="urn:ogc:def:crs:EPSG::2180" gml:id="obreby.geom.1"><gml:surfaceMember><gml:Polygon gml:id="obreby.geom.1.0"><gml:exterior><gml:LinearRing><gml:posList>731133.27 471260.9 731120.5 471915.02 729850.12 471877.46 729871.9 470612.4 731133.27 471260.9</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon></gml:surfaceMember></gml:MultiSurface></ogr:geometryProperty>
      <ogr:JPT_SJR_KO>OBR</ogr:JPT_SJR_KO>
      <ogr:JPT_POWIER>131</ogr:JPT_POWIER>
      <ogr:JPT_KOD_JE>226401_1.0025</ogr:JPT_KOD_JE>
      <ogr:JPT_NAZWA_>Sopot 0025</ogr:JPT_NAZWA_>
      <ogr:JPT_ORGAN_>NZN</ogr:JPT_ORGAN_>
      <ogr:JPT_JOR_ID>0</ogr:JPT_JOR_ID>
      <ogr:WERSJA_OD>2012-09-26</ogr:WERSJA_OD>
      <ogr:WAZNY_OD>2012-09-26</ogr:WAZNY_OD>
      <ogr:IIP_PRZEST>PL.PZGIK.200</ogr:IIP_PRZEST>
      <ogr:IIP_IDENTY>a3c3b6a6-1a0c-4c3e-9d0e-3f1f2b7e0025</ogr:IIP_IDENTY>
      <ogr:IIP_WERSJA>2012-09-27T08:06:38+02:00</ogr:IIP_WERSJA>
      <ogr:JPT_KJ_IIP>EGIB</ogr:JPT_KJ_IIP>
      <ogr:JPT_KJ_I_1>226401_1.0025</ogr:JPT_KJ_I_1>
      <ogr:JPT_ID>1370249</ogr:JPT_ID>
      <ogr:Shape_Leng>5102.77</ogr:Shape_Leng>
      <ogr:Shape_Area>1306018.4</ogr:Shape_Area>
    </ogr:obreby>
  </ogr:featureMember>
  <ogr:featureMember>
    <ogr:obreby gml:id="obreby.2">
      <gml:boundedBy><gml:Envelope srsName="urn:ogc:def:crs:EPSG::2180"><gml:lowerCorner>729850.12 470612.4</gml:lowerCorner><gml:upperCorner>732410.88 472955.61</gml:upperCorner></gml:Envelope></gml:boundedBy>
      <ogr:geometryProperty><gml:MultiSurface srsName="urn:ogc:def:crs:EPSG::2180" gml:id="obreby.geom.2"><gml:surfaceMember><gml:Polygon gml:id="obreby.geom.2.0"><gml:exterior><gml:LinearRing><gml:posList>732410.88 471204.33 732398.1 472955.61 729850.12 472901.07 729871.9 470612.4 732410.88 471204.33</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon></gml:surfaceMember></gml:MultiSurface></ogr:geometryProperty>
      <ogr:JPT_SJR_KO>JEW</ogr:JPT_SJR_KO>
      <ogr:JPT_POWIER>1731</ogr:JPT_POWIER>
      <ogr:JPT_KOD_JE>226401_1</ogr:JPT_KOD_JE>
      <ogr:JPT_NAZWA_>Sopot</ogr:JPT_NAZWA_>
      <ogr:JPT_ORGAN_>NZN</ogr:JPT_ORGAN_>
      <ogr:JPT_JOR_ID>0</ogr:JPT_JOR_ID>
      <ogr:WERSJA_OD>2012-09-26</ogr:WERSJA_OD>
      <ogr:WAZNY_OD>2012-09-26</ogr:WAZNY_OD>
      <ogr:IIP_PRZEST>PL.PZGIK.200</ogr:IIP_PRZEST>
      <ogr:IIP_IDENTY>5e1f0f6c-7a61-4b5e-8f0d-c6b2a9e26401</ogr:IIP_IDENTY>
      <ogr:IIP_WERSJA>2012-09-27T08:06:38+02:00</ogr:IIP_WERSJA>
      <ogr:JPT_KJ_IIP>EGIB</ogr:JPT_KJ_IIP>
      <ogr:JPT_KJ_I_1>226401_1</ogr:JPT_KJ_I_1>
      <ogr:JPT_ID>1369977</ogr:JPT_ID>
      <ogr:Shape_Leng>21655.09</ogr:Shape_Leng>
      <ogr:Shape_Area>17310422.56</ogr:Shape_Area>
    </ogr:obreby>
  </ogr:featureMember>
</ogr:FeatureCollection>
